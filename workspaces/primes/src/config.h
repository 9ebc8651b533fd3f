/*
 * Tunable knobs for the prime counter.
 *
 * Ratchet's "tuner" proposer rewrites the values on the #define lines
 * below (see [[proposer.tuner.knob]] in ratchet.toml), so keep exactly one
 * "#define NAME VALUE" line per knob.  The values checked in are the slow
 * starting point of the demo.
 */
#ifndef PRIMES_CONFIG_H
#define PRIMES_CONFIG_H

/* 1: trial-divide odd candidates by odd divisors only; 0: try every divisor. */
#define SKIP_EVEN 0

/* Width of the integer type used for trial division: 64 or 32. */
#define WORD_BITS 64

/* Size in bytes of the stdout buffer.  The program prints one line, so this
 * should make no measurable difference (the demo's neutral knob). */
#define OUTPUT_BUF 1024

#endif
