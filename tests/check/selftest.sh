#!/bin/sh
# Self-test of check-freestanding.sh: it must reject an archive with a libc
# call, a stack-protector reference and SSE/x87 code (naming each), and
# accept a clean one. Usage: selftest.sh BAD.a GOOD.a [NM] [OBJDUMP]
set -u
here=$(dirname "$0")
bad=$1 good=$2
shift 2
status=0

out=$(sh "$here/check-freestanding.sh" "$bad" "$@")
rc=$?
echo "$out"
[ $rc -eq 1 ] || { echo "selftest: FAIL: bad archive gave status $rc, expected 1"; status=1; }
for want in 'memcpy' '__stack_chk_fail' '%xmm' 'fld'; do
    case $out in
    *"$want"*) echo "selftest: ok: '$want' reported" ;;
    *) echo "selftest: FAIL: '$want' not reported"; status=1 ;;
    esac
done

out=$(sh "$here/check-freestanding.sh" "$good" "$@")
rc=$?
echo "$out"
[ $rc -eq 0 ] || { echo "selftest: FAIL: clean archive gave status $rc"; status=1; }
exit $status
