#ifndef PRIMES_PRIMES_H
#define PRIMES_PRIMES_H

#include <stdint.h>

#include "config.h"

#if WORD_BITS == 32
typedef uint32_t num_t;
#elif WORD_BITS == 64
typedef uint64_t num_t;
#else
#error "WORD_BITS must be 32 or 64"
#endif

/* Largest N accepted on the command line (fits both widths). */
#define MAX_LIMIT 1000000000u

/* Count the primes p < limit; store their sum in *sum. */
uint64_t count_primes(num_t limit, uint64_t *sum);

#endif
