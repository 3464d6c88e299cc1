"""Check at build time that every import of the provider's own modules resolves in the
built file (``drp-plugin build``; Go fails at compile time, we fail at build time).

The provider module and the modules it carries from its folder are read with
:mod:`ast`: every ``import``/``from ... import`` (at top level and inside
functions, relative ones resolved against their package) and every
``importlib.import_module("literal")`` / ``__import__("literal")``.  Each must
resolve to

- a module of the standard library of *every* Python the file runs on (from the
  floor to 3.13: ``tomllib`` is 3.11+, ``imp`` and ``distutils`` end with 3.11,
  ``cgi`` and ``telnetlib`` with 3.12, see :data:`STDLIB_SPAN`);
- a module carried in the file (a package resolved for it, drp-plugin itself,
  whose stand-in, test helpers and build tool are not carried);
- a module of the project (a ``NAME.py`` or ``NAME/`` package beside the
  provider module: one imported only inside a function is found here and
  carried too, :func:`local_modules`).

Not checked: an import guarded by ``try: ... except ImportError`` (or
``ModuleNotFoundError``, ``Exception``, a bare ``except``) or inside
``with contextlib.suppress(ImportError)``, which is a deliberate optional import;
one under ``if TYPE_CHECKING:``, which never runs; and the modules named by
``--allow-import NAME`` (``NAME`` and its submodules).
"""

from __future__ import annotations

import ast
import os
import sys
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from ..errors import BuildError
from .probe import LocalModule
from .wheels import SUPPORTED_MINORS, minor_text

#: Standard library modules that are not in every supported minor (3.9 to 3.13):
#: name -> (first minor that has it, last minor that has it).  Measured with
#: ``sys.stdlib_module_names`` of each minor (3.9's from its installed modules).
STDLIB_SPAN: dict[str, tuple[tuple[int, int], tuple[int, int]]] = {
    **dict.fromkeys(("_bootlocale", "_peg_parser", "formatter", "parser", "symbol"),
                    ((3, 9), (3, 9))),
    "binhex": ((3, 9), (3, 10)),
    **dict.fromkeys(("_bootsubprocess", "_sha256", "_sha512", "asynchat", "asyncore",
                     "distutils", "imp", "smtpd"), ((3, 9), (3, 11))),
    **dict.fromkeys(("_crypt", "_msi", "aifc", "audioop", "cgi", "cgitb", "chunk", "crypt",
                     "imghdr", "lib2to3", "mailcap", "msilib", "nis", "nntplib", "ossaudiodev",
                     "pipes", "sndhdr", "spwd", "sunau", "telnetlib", "uu", "xdrlib"),
                    ((3, 9), (3, 12))),
    **dict.fromkeys(("_tokenize", "_typing", "tomllib"), ((3, 11), (3, 13))),
    **dict.fromkeys(("_pydatetime", "_pylong", "_sha2"), ((3, 12), (3, 13))),
    **dict.fromkeys(("_android_support", "_colorize", "_interpchannels", "_interpqueues",
                     "_interpreters", "_ios_support", "_opcode_metadata", "_pyrepl",
                     "_suggestions", "_sysconfig", "_wmi"), ((3, 13), (3, 13))),
}

#: Exceptions whose handler makes the imports of a ``try`` body optional.
_IMPORT_ERRORS = {"ImportError", "ModuleNotFoundError", "Exception", "BaseException"}


def stdlib_minors(name: str, minors: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
    """The minors of ``minors`` whose standard library has the top-level module ``name``."""
    span = STDLIB_SPAN.get(name)
    if span is not None:
        return [m for m in minors if span[0] <= m <= span[1]]
    return list(minors) if name in sys.stdlib_module_names else []


@dataclass(frozen=True)
class Import:
    """One import statement (or literal ``import_module`` call) of a provider module."""

    #: the absolute dotted module name (for ``from X import a``: ``X``)
    module: str
    #: the names of ``from X import a, b`` (submodules or attributes)
    names: tuple[str, ...]
    #: the file, as shown in messages (relative to the project folder)
    where: str
    line: int
    #: inside ``try/except ImportError`` or ``suppress(ImportError)``: optional
    guarded: bool
    #: why the import cannot be resolved from its text (a relative import out of a
    #: top-level module), else ""
    problem: str = ""

    @property
    def top(self) -> str:
        """The top-level module name."""
        return self.module.split(".")[0]


def _names(node: ast.expr | None) -> list[str]:
    """``ImportError`` / ``builtins.ImportError`` / a tuple of them -> their last names."""
    if node is None:
        return ["BaseException"]  # a bare except
    if isinstance(node, ast.Tuple):
        return [n for elt in node.elts for n in _names(elt)]
    if isinstance(node, ast.Name):
        return [node.id]
    if isinstance(node, ast.Attribute):
        return [node.attr]
    return []


def _is_type_checking(test: ast.expr) -> bool:
    return ((isinstance(test, ast.Name) and test.id == "TYPE_CHECKING")
            or (isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"))


def _suppresses_import_errors(node: ast.With | ast.AsyncWith) -> bool:
    for item in node.items:
        call = item.context_expr
        if isinstance(call, ast.Call):
            func = call.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if name == "suppress" and any(n in _IMPORT_ERRORS for a in call.args for n in _names(a)):
                return True
    return False


class _Finder(ast.NodeVisitor):
    def __init__(self, package: str, where: str) -> None:
        self.package = package
        self.where = where
        self.guard = 0
        self.found: list[Import] = []

    def _add(self, node: ast.AST, module: str, names: tuple[str, ...] = (), problem: str = "") -> None:
        self.found.append(Import(module, names, self.where, getattr(node, "lineno", 0),
                                 self.guard > 0, problem))

    def _guarded(self, body: Iterable[ast.stmt]) -> None:
        self.guard += 1
        for stmt in body:
            self.visit(stmt)
        self.guard -= 1

    def _visit_try(self, node: ast.Try | ast.TryStar) -> None:
        if any(n in _IMPORT_ERRORS for h in node.handlers for n in _names(h.type)):
            self._guarded(node.body)
        else:
            for stmt in node.body:
                self.visit(stmt)
        for part in (node.handlers, node.orelse, node.finalbody):
            for child in part:
                self.visit(child)

    def visit_Try(self, node: ast.Try) -> None:  # noqa: N802 - ast.NodeVisitor's name
        self._visit_try(node)

    def visit_TryStar(self, node: ast.TryStar) -> None:  # noqa: N802 - ast.NodeVisitor's name
        self._visit_try(node)

    def visit_If(self, node: ast.If) -> None:  # noqa: N802 - ast.NodeVisitor's name
        if _is_type_checking(node.test):
            for stmt in node.orelse:
                self.visit(stmt)
            return
        self.generic_visit(node)

    def _visit_with(self, node: ast.With | ast.AsyncWith) -> None:
        for item in node.items:
            self.visit(item)
        if _suppresses_import_errors(node):
            self._guarded(node.body)
        else:
            for stmt in node.body:
                self.visit(stmt)

    visit_With = _visit_with
    visit_AsyncWith = _visit_with

    def visit_Import(self, node: ast.Import) -> None:  # noqa: N802 - ast.NodeVisitor's name
        for alias in node.names:
            self._add(node, alias.name)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:  # noqa: N802 - ast.NodeVisitor's name
        names = tuple(a.name for a in node.names if a.name != "*")
        if not node.level:
            self._add(node, node.module or "", names)
            return
        parts = self.package.split(".") if self.package else []
        if node.level > len(parts):
            where = "a top-level module" if not parts else f"the package {self.package}"
            self._add(node, "." * node.level + (node.module or ""), names,
                      f"a relative import beyond {where}")
            return
        base = parts[:len(parts) - node.level + 1]
        module = ".".join(base + ([node.module] if node.module else []))
        if node.module:
            self._add(node, module, names)
        else:
            for name in names:  # from . import x: x is a submodule or a name of the package
                self._add(node, module, (name,))

    def visit_Call(self, node: ast.Call) -> None:  # noqa: N802 - ast.NodeVisitor's name
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
        if (name in ("import_module", "__import__") and node.args
                and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)
                and node.args[0].value and not node.args[0].value.startswith(".")):
            self._add(node, node.args[0].value)
        self.generic_visit(node)


def find_imports(source: bytes, where: str, package: str = "") -> list[Import]:
    """The imports of one module's ``source``; ``package`` is the package the module is
    in (``""`` for a top-level module), for relative imports."""
    try:
        tree = ast.parse(source, filename=where)
    except (SyntaxError, ValueError) as exc:
        line = getattr(exc, "lineno", None)
        raise BuildError(f"{where}{f':{line}' if line else ''}: cannot read the module: "
                         f"{getattr(exc, 'msg', exc)}") from None
    finder = _Finder(package, where)
    finder.visit(tree)
    return finder.found


def _module_files(folder: Path, module: LocalModule) -> Iterator[tuple[Path, str]]:
    """``(file, package)`` of every module the build carries for ``module``."""
    path = Path(module.path)
    if not module.package:
        yield path, ""
        return
    for dirpath, dirnames, filenames in os.walk(path):
        dirnames[:] = sorted(d for d in dirnames if d != "__pycache__")
        rel = Path(dirpath).relative_to(path).parts
        for fname in sorted(filenames):
            if fname.endswith(".py"):
                package = ".".join((module.name, *rel))
                yield Path(dirpath, fname), package


def _display(file: Path, folder: Path) -> str:
    try:
        return file.relative_to(folder).as_posix()
    except ValueError:
        return str(file)


def _local_candidate(folder: Path, name: str) -> LocalModule | None:
    file = folder / f"{name}.py"
    if file.is_file():
        return LocalModule(name, str(file.resolve()), False)
    init = folder / name / "__init__.py"
    if init.is_file():
        return LocalModule(name, str((folder / name).resolve()), True)
    return None


def local_modules(folder: Path, module_file: Path, known: Sequence[LocalModule],
                  shown_from: Path | None = None) -> tuple[list[LocalModule], list[Import]]:
    """The modules of ``folder`` the provider uses (``known``, from importing it, plus
    those imported only inside functions, found from the imports of each), and every
    import of the provider module and of those modules (files shown relative to
    ``shown_from``, by default ``folder``)."""
    shown_from = shown_from or folder
    module_name = module_file.stem
    found = {m.name: m for m in known}
    imports: list[Import] = []
    queue: list[tuple[Path, str]] = [(module_file, "")]
    for local in known:
        queue.extend(_module_files(folder, local))
    seen: set[Path] = set()
    while queue:
        file, package = queue.pop(0)
        if file in seen:
            continue
        seen.add(file)
        for imp in find_imports(file.read_bytes(), _display(file, shown_from), package):
            imports.append(imp)
            top = imp.top
            if (imp.problem or not top or top == module_name or top in found
                    or top in sys.stdlib_module_names or top in STDLIB_SPAN):
                continue
            candidate = _local_candidate(folder, top)
            if candidate is not None:
                found[top] = candidate
                queue.extend(_module_files(folder, candidate))
    return sorted(found.values(), key=lambda m: m.name), imports


def _allowed(module: str, allow: Sequence[str]) -> bool:
    return any(module == a or module.startswith(a + ".") for a in allow)


def unresolved(imports: Sequence[Import], archive_names: Iterable[str], native_tops: Iterable[str],
               floor: tuple[int, int], allow: Sequence[str] = ()) -> list[str]:
    """``file:line: module (why)`` for every import the built file would fail on.

    ``archive_names`` are the entries of the file (its modules), ``native_tops`` the
    top-level modules of the compiled wheels it carries (not looked into).
    """
    modules: set[str] = set()
    for name in archive_names:
        parts = name.split("/")
        for i in range(1, len(parts)):
            modules.add(".".join(parts[:i]))
        if name.endswith(".py"):
            leaf = ".".join(parts)[:-3]
            modules.add(leaf[:-len(".__init__")] if leaf.endswith(".__init__") else leaf)
    natives = set(native_tops)
    minors = [m for m in SUPPORTED_MINORS if m >= floor]
    problems: list[tuple[str, int, str]] = []
    for imp in imports:
        if imp.guarded or _allowed(imp.module, allow):
            continue
        why = imp.problem or _why(imp, modules, natives, minors)
        if why:
            problems.append((imp.where, imp.line, f"{imp.module or '.'} ({why})"))
    return [f"{where}:{line}: {text}" for where, line, text in sorted(set(problems))]


def _why(imp: Import, modules: set[str], natives: set[str], minors: list[tuple[int, int]]) -> str:
    top = imp.top
    if top in natives:
        return ""
    if top in modules:
        parts = imp.module.split(".")
        for i in range(2, len(parts) + 1):
            prefix = ".".join(parts[:i])
            if prefix not in modules:
                return f"{'.'.join(parts[:i - 1])} has no module {parts[i - 1]} in the built file"
        return ""
    has = stdlib_minors(top, minors)
    if has == minors:
        return ""
    if has:
        return (f"in the standard library of Python {', '.join(minor_text(m) for m in has)} "
                f"only; this file runs on {minor_text(minors[0])} to {minor_text(minors[-1])}")
    return "not in the standard library, not a carried package, not a module of the project"


def report(problems: Sequence[str]) -> str:
    """The :class:`BuildError` message for :func:`unresolved`'s answer."""
    return ("the provider imports modules the built file would not have:\n  "
            + "\n  ".join(problems)
            + "\nDeclare the package in [project].dependencies of pyproject.toml, raise the "
              "floor with --python, guard an optional import with try/except ImportError, or "
              "allow the module on purpose with --allow-import NAME.")
