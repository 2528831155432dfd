package garant

import (
	"net/url"
	"regexp"
	"strings"
)

// DefaultDocumentBase is the Garant front end that relative document links
// resolve against.
const DefaultDocumentBase = "https://internet.garant.ru"

// objectLink matches the src or href of an image or formula in exported HTML:
// /document/image?revision=…&document_id=…&object_id=N and
// /document/formula?revision=…&text=CODE&fmt=png, with & or &amp;.
var objectLink = regexp.MustCompile(`(["'])(?:https?://[^/"']+)?/document/(image|formula)\?([^"'<>\s]*)(["'])`)

// RewriteHTML points the image and formula links of exported HTML at the
// gateway: /document/image?…object_id=N becomes prefix+"/images/N" and
// /document/formula?…text=CODE&fmt=png becomes
// prefix+"/formulas?text=CODE&fmt=png", with CODE verbatim (Garant wants it
// exactly as it appears in its own link). prefix is e.g. "/v1/garant".
// Other links are left alone; so is a link without its id, or whose id
// is "." or "..".
func RewriteHTML(html, prefix string) string {
	if !strings.Contains(html, "/document/") {
		return html
	}
	return objectLink.ReplaceAllStringFunc(html, func(m string) string {
		sub := objectLink.FindStringSubmatch(m)
		open, kind, query, closing := sub[1], sub[2], sub[3], sub[4]
		if open != closing {
			return m
		}
		sep := "&"
		if strings.Contains(query, "&amp;") {
			sep = "&amp;"
		}
		params := rawParams(strings.ReplaceAll(query, "&amp;", "&"))
		switch kind {
		case "image":
			id := params["object_id"]
			if id == "" {
				return m
			}
			if dec, err := url.QueryUnescape(id); err == nil {
				id = dec
			}
			if id == "" || id == "." || id == ".." { // not a path segment of its own
				return m
			}
			return open + prefix + "/images/" + url.PathEscape(id) + closing
		default:
			code := params["text"]
			if code == "" {
				return m
			}
			format := params["fmt"]
			if format == "" {
				format = "png"
			}
			return open + prefix + "/formulas?text=" + code + sep + "fmt=" + format + closing
		}
	})
}

// rawParams splits a query string without decoding the values.
func rawParams(q string) map[string]string {
	out := map[string]string{}
	for part := range strings.SplitSeq(q, "&") {
		k, v, _ := strings.Cut(part, "=")
		if _, dup := out[k]; !dup {
			out[k] = v
		}
	}
	return out
}

// AbsoluteURL resolves a link relative to the Garant front end
// ("/#/document/12125268") against base; absolute links are returned as they
// are.
func AbsoluteURL(base, rel string) string {
	if rel == "" || strings.HasPrefix(rel, "http://") || strings.HasPrefix(rel, "https://") {
		return rel
	}
	if base == "" {
		base = DefaultDocumentBase
	}
	base = strings.TrimRight(base, "/")
	if !strings.HasPrefix(rel, "/") {
		rel = "/" + rel
	}
	return base + rel
}
