"""``BasicStore``: the content layer every dr-provision starts with.

DRP loads it before anything else: the boot environments ``ignore`` (unknown
machines boot their local disk) and ``local`` (known machines do), the stages ``local``
and ``none`` (the default stage), the param ``pxelinux-local-boot`` and the role
``superuser``.  Facts: the answers DRP recorded for ``drpcli bootenvs list``,
``stages list``, ``params list`` and ``contents list``
(``cli/test-data/output/TestBootEnvCli/bootenvs.list``, ``TestStageCli/stages.list``,
``TestAuth/params.list.*``, ``TestContentCli/contents.list``, provision ``af452c8a~1``):
the objects are read-only, their ``Bundle`` is ``BasicStore``, and the layer's meta is
Type ``basic``, Version ``3.12.0``, Overwritable.  The role ``superuser`` holds the one
claim ``* * *`` (recorded ``TestAuth/roles.list``).
"""

from __future__ import annotations

from .._types import Obj

NAME = "BasicStore"

META: Obj = {
    "Name": NAME, "Type": "basic", "Version": "3.12.0", "Overwritable": True,
    "Writable": False, "Description": "Default objects that must be present",
    "Author": "", "CodeSource": "", "Color": "", "Copyright": "", "DisplayName": "",
    "DocUrl": "", "Documentation": "", "Icon": "", "License": "", "Order": "",
    "Prerequisites": "", "RequiredFeatures": "", "Source": "", "Tags": "",
}

_PXELINUX = ('DEFAULT local\nPROMPT 0\nTIMEOUT 10\nLABEL local\n'
             '{{.Param "pxelinux-local-boot"}}\n')
_IPXE_CHAIN = ("#!ipxe\nchain {{.ProvisionerURL}}/${netX/mac}.ipxe && exit || goto chainip\n"
               ":chainip\nchain tftp://{{.ProvisionerAddress}}/${netX/ip}.ipxe || exit\n")
_REBOOT = ('        echo "Rebooting in 120 seconds"\n        sleep 120\n        reboot\n')
#: grub: chain to the local disk (BIOS), or find an EFI grub.cfg on it.
_GRUB_LOCAL = (
    "if test $grub_platform == pc; then\n    chainloader (hd0)\nelse\n"
    "    bpx=/efi/boot\n    root='' prefix=''\n"
    "    search --file --set=root $bpx/bootx64.efi || search --file --set=root "
    "$bpx/bootaa64.efi\n"
    "    if test x$root == x; then\n        echo \"No EFI boot partiton found.\"\n"
    + _REBOOT + "    fi\n"
    "    if test -f ($root)/efi/microsoft/boot/bootmgfw.efi; then\n"
    "        echo \"Microsoft Windows found, chainloading into it\"\n"
    "        chainloader ($root)/efi/microsoft/boot/bootmgfw.efi\n    fi\n"
    "    for f in ($root)/efi/*; do\n        if test -f $f/grub.cfg; then\n"
    "            prefix=$f\n            break\n        fi\n    done\n"
    "    if test x$prefix == x; then\n        echo \"Unable to find grub.cfg\"\n"
    + _REBOOT + "    fi\n    configfile $prefix/grub.cfg\nfi\n")
#: grub for unknown machines: a per-machine config when there is one, else local.
_GRUB_DEFAULT = (
    "set _kernel=linux\nset _module=initrd\n$_kernel\nif test $? != 18; then\n"
    "    set _kernel=linuxefi\n    set _module=initrdefi\nfi\n"
    'function kernel { $_kernel "$@"; }\nfunction module { $_module "$@"; }\n'
    "if test -s (tftp)/grub/${net_default_mac}.cfg; then\n    echo \"Booting via MAC\"\n"
    "    source (tftp)/grub/${net_default_mac}.cfg\n    boot\n"
    "elif test -s (tftp)/grub/${net_default_ip}.cfg; then\n    echo \"Booting via IP\"\n"
    "    source (tftp)/grub/${net_default_ip}.cfg\n    boot\nel" + _GRUB_LOCAL)
_LOCAL_BOOT_DOC = (
    "\nOn most systems, using 'localboot 0' is the proper thing to do to have\n"
    "pxelinux try to boot off the first hard drive.  However, some systems\n"
    "do not behave properlydoing that, either due to firmware bugs or\n"
    "malconfigured hard drives.  This param allows you to override 'localboot 0'\n"
    "with another pxelinux command.  A useful reference for alternate boot methods\n"
    "is at https://www.syslinux.org/wiki/index.php?title=Comboot/chain.c32")


def _tmpl(name: str, path: str, contents: str) -> Obj:
    return {"Name": name, "Path": path, "Contents": contents, "ID": "", "Meta": {}}


def _meta(icon: str, **more: str) -> dict[str, str]:
    return {"color": "green", "icon": icon, "title": "Digital Rebar Provision", **more}


def sections() -> dict[str, dict[str, Obj]]:
    """The objects of BasicStore, by prefix and key."""
    flags = "change-stage-v2"
    return {
        "params": {"pxelinux-local-boot": {
            "Name": "pxelinux-local-boot",
            "Description": "The method pxelinux should use to try to boot to the local disk",
            "Documentation": _LOCAL_BOOT_DOC,
            "Schema": {"type": "string", "default": "localboot 0"}}},
        "bootenvs": {
            "ignore": {
                "Name": "ignore", "OnlyUnknown": True, "OS": {"Name": "ignore"},
                "Description": "The boot environment you should use to have unknown "
                               "machines boot off their local hard drive",
                "Meta": _meta("circle thin", **{"feature-flags": flags}),
                "Templates": [_tmpl("pxelinux", "pxelinux.cfg/default", _PXELINUX),
                              _tmpl("ipxe", "default.ipxe", _IPXE_CHAIN),
                              _tmpl("grub", "grub/grub.cfg", _GRUB_DEFAULT)]},
            "local": {
                "Name": "local", "OnlyUnknown": False, "OS": {"Name": "local"},
                "Description": "The boot environment you should use to have known "
                               "machines boot off their local hard drive",
                "Meta": _meta("radio", **{"feature-flags": flags}),
                "Templates": [
                    _tmpl("pxelinux", "pxelinux.cfg/{{.Machine.HexAddress}}", _PXELINUX),
                    _tmpl("ipxe", "{{.Machine.Address}}.ipxe", "#!ipxe\nexit\n"),
                    _tmpl("pxelinux-mac", 'pxelinux.cfg/{{.Machine.MacAddr "pxelinux"}}',
                          _PXELINUX),
                    _tmpl("ipxe-mac", '{{.Machine.MacAddr "ipxe"}}.ipxe', "#!ipxe\nexit\n"),
                    _tmpl("grub", "grub/{{.Machine.Address}}.cfg", _GRUB_LOCAL),
                    _tmpl("grub-mac", 'grub/{{.Machine.MacAddr "grub"}}.cfg', _GRUB_LOCAL)]},
        },
        "roles": {"superuser": {"Name": "superuser", "Claims": [
            {"scope": "*", "action": "*", "specific": "*"}]}},
        "stages": {
            "local": {"Name": "local", "BootEnv": "local", "Meta": _meta("radio"),
                      "Description": "Stage to boot into the local BootEnv."},
            "none": {"Name": "none", "BootEnv": "", "Meta": _meta("circle thin"),
                     "Description": "Noop / Nothing stage"},
        },
    }


def content() -> Obj:
    """BasicStore as a ``models.Content`` (``meta`` and ``sections``)."""
    return {"meta": dict(META), "sections": sections()}
