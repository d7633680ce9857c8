# An IPv6 netmask (ffff:ffff:ffff:ffff::) as a prefix length (64).
{
    bits = 0; split($0, groups, ":")
    for (g in groups) {
        h = groups[g]
        for (k = 1; k <= length(h); k++) {
            d = index("0123456789abcdef", tolower(substr(h, k, 1))) - 1
            bits += (d >= 8) + (d % 8 >= 4) + (d % 4 >= 2) + (d % 2)
        }
    }
    print bits
}
