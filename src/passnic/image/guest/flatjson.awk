# Flattens a JSON document into "path=value" lines (links.0.ethernet_mac_address=fa:16:...),
# which a shell script can read with sed: busybox has no JSON parser.
function path(   p, d) {
    p = ""
    for (d = 1; d <= depth; d++) p = p (d > 1 ? "." : "") (kind[d] == "o" ? key[d] : idx[d])
    return p
}
{ text = text $0 "\n" }
END {
    n = length(text); i = 1; depth = 0; iskey = 0
    while (i <= n) {
        c = substr(text, i, 1)
        if (c == "{") { depth++; kind[depth] = "o"; iskey = 1; i++ }
        else if (c == "[") { depth++; kind[depth] = "a"; idx[depth] = 0; i++ }
        else if (c == "}" || c == "]") { depth--; i++ }
        else if (c == ",") { if (kind[depth] == "a") idx[depth]++; else iskey = 1; i++ }
        else if (c == ":") { iskey = 0; i++ }
        else if (c == "\"") {
            j = i + 1; s = ""
            while (j <= n && substr(text, j, 1) != "\"") {
                if (substr(text, j, 1) == "\\") j++
                s = s substr(text, j, 1); j++
            }
            i = j + 1
            if (kind[depth] == "o" && iskey) key[depth] = s
            else print path() "=" s
        }
        else if (c ~ /[-0-9a-z]/) {
            j = i
            while (j <= n && substr(text, j, 1) ~ /[-+0-9a-zA-Z.]/) j++
            print path() "=" substr(text, i, j - i); i = j
        }
        else i++
    }
}
