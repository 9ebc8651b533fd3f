#!/bin/sh
# Correctness test: compare `primes N` with known values of pi(N) (the number
# of primes below N) and of the sum of those primes.  Exits non-zero on the
# first mismatch.
bin=${1:-./primes}

check() { # N expected-count expected-sum
    expected="primes below $1: $2 (sum $3)"
    if ! actual=$("$bin" "$1"); then
        echo "FAIL: '$bin $1' exited with an error" >&2
        exit 1
    fi
    if [ "$actual" != "$expected" ]; then
        echo "FAIL: '$bin $1'" >&2
        echo "  expected: $expected" >&2
        echo "  actual:   $actual" >&2
        exit 1
    fi
}

check 0 0 0
check 1 0 0
check 2 0 0
check 3 1 2
check 10 4 17
check 100 25 1060
check 1000 168 76127
check 7920 1000 3682913
check 100000 9592 454396537
check 1000000 78498 37550402023

if "$bin" 12x >/dev/null 2>&1; then
    echo "FAIL: '$bin 12x' should be rejected" >&2
    exit 1
fi

echo "ok: all prime counts match"
