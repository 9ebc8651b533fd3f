/* primes N: print how many primes are below N, and their sum. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "primes.h"

static char outbuf[OUTPUT_BUF];

int main(int argc, char **argv)
{
    unsigned long long limit;
    uint64_t count, sum;
    char *end;

    if (argc != 2) {
        fprintf(stderr, "usage: %s N\n", argv[0]);
        return 2;
    }
    limit = strtoull(argv[1], &end, 10);
    if (end == argv[1] || *end != '\0' || argv[1][0] == '-' || limit > MAX_LIMIT) {
        fprintf(stderr, "%s: N must be an integer in [0, %u]\n", argv[0], MAX_LIMIT);
        return 2;
    }
    setvbuf(stdout, outbuf, _IOFBF, sizeof outbuf);

    count = count_primes((num_t)limit, &sum);
    printf("primes below %llu: %" PRIu64 " (sum %" PRIu64 ")\n", limit, count, sum);
    return 0;
}
