/* Freestanding and integer-only: check-freestanding.sh must accept it. */
unsigned long selftest_sum(const unsigned long *v, unsigned long n)
{
    unsigned long s = 0;
    for (unsigned long i = 0; i < n; i++)
        s += v[i];
    return s;
}
