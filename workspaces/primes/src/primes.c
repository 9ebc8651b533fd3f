/*
 * Counting primes below a limit by trial division.
 *
 * Each candidate n is divided by every d with d * d <= n until a divisor is
 * found.  The knobs in config.h select how much work that takes.
 */
#include "primes.h"

static int is_prime(num_t n)
{
    num_t d;

    if (n < 2)
        return 0;
#if SKIP_EVEN
    if (n % 2 == 0)
        return n == 2;
    for (d = 3; d * d <= n; d += 2)
#else
    for (d = 2; d * d <= n; d++)
#endif
        if (n % d == 0)
            return 0;
    return 1;
}

uint64_t count_primes(num_t limit, uint64_t *sum)
{
    uint64_t count = 0, total = 0;
    num_t n;

#if SKIP_EVEN
    if (limit > 2) {
        count = 1;
        total = 2;
    }
    for (n = 3; n < limit; n += 2)
#else
    for (n = 0; n < limit; n++)
#endif
        if (is_prime(n)) {
            count++;
            total += n;
        }
    *sum = total;
    return count;
}
