#!/bin/sh
# chassis_control of the simulated BMCs (OpenIPMI ipmi_sim's `chassis_control` hook).
#
#   chassis_control.sh <state-dir> get <parm>...        prints "<parm>:<value>" lines
#   chassis_control.sh <state-dir> set <parm> <value>... stores each value
#
# ipmi_sim runs it through popen for every chassis command of one BMC (lan.conf gives
# each BMC its own state directory).  The state lives in files the tests read:
#   power     1 or 0                     boot      none, pxe, cdrom, bios or default
#   identify  "<seconds> <force>"        log       one "set <parm> <value>" line per change
dir=$1
op=$2
if [ -z "$dir" ] || [ -z "$op" ]; then
    echo "usage: $0 <state-dir> get|set|check <parm> [<value>]..."
    exit 1
fi
shift 2
mkdir -p "$dir" || exit 1

case $op in
get)
    for parm in "$@"; do
        case $parm in
            power) val=$(cat "$dir/power" 2>/dev/null || echo 0) ;;
            boot) val=$(cat "$dir/boot" 2>/dev/null || echo default) ;;
            *) echo "Invalid parameter: $parm"; exit 1 ;;
        esac
        echo "$parm:$val"
    done
    ;;
set)
    while [ $# -gt 0 ]; do
        parm=$1
        if [ $# -lt 2 ]; then
            echo "No value present for parameter $parm"
            exit 1
        fi
        val=$2
        shift 2
        case $parm in
            power|identify) ;;
            reset) echo "set reset $val" >> "$dir/log"; continue ;;
            boot)
                case $val in
                    none|pxe|cdrom|bios|default) ;;
                    *) echo "Invalid boot value: $val"; exit 1 ;;
                esac
                ;;
            *) echo "Invalid parameter: $parm"; exit 1 ;;
        esac
        printf '%s\n' "$val" > "$dir/$parm.tmp" && mv "$dir/$parm.tmp" "$dir/$parm"
        echo "set $parm $val" >> "$dir/log"
    done
    ;;
check)
    exit 1  # not supported for chassis control
    ;;
*)
    echo "Unknown operation: $op"
    exit 1
    ;;
esac
