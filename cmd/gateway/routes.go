package main

import (
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/legalgate/legalgate/internal/config"
	"github.com/legalgate/legalgate/internal/upstream/fips"
)

// fipsSwaggerWords is where the FIPS document says its methods and their
// parameters are published.
const fipsSwaggerWords = "«Для получения актуальной информации о параметрах вызова методов API и составе методов API " +
	"используется пользовательский интерфейс Swagger. Адрес доступа к интерфейсу Swagger: https://kpsrtz.fips.ru/api/swagger»"

// printFIPSRoutes writes the effective FIPS route table of cfg: every
// operation's method, path, content type, part name and signature shape,
// and whether the config sets it or it is the (unverified) default; then
// the member names of the JSON request bodies.
func printFIPSRoutes(w io.Writer, cfg *config.Config) error {
	routes, err := fips.ResolveRoutes(fipsRoutes(cfg))
	if err != nil {
		return fmt.Errorf("config: upstreams.fips.%w", err)
	}
	base := cfg.Upstreams.FIPS.BaseURL
	if base == "" {
		base = "(upstreams.fips.base_url)"
	}
	fmt.Fprintf(w, "# FIPS Registrator routes, relative to %s\n", base)
	fmt.Fprintf(w, "# source default: a proposal the FIPS document does not confirm; it says: %s\n", fipsSwaggerWords)
	fmt.Fprintf(w, "# source config: set in upstreams.fips.routes (fields it leaves out keep the default)\n")
	fmt.Fprintf(w, "# the gateway serves the same methods and paths under /compat/fips, FIPS's own API with a tenant key\n")
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "OPERATION\tMETHOD\tPATH\tCONTENT-TYPE\tPART\tSIGNATURE\tSOURCE")
	dash := func(s string) string {
		if s == "" {
			return "-"
		}
		return s
	}
	for _, op := range fips.Operations() {
		r, source := routes[op], "default"
		if _, ok := cfg.Upstreams.FIPS.Routes[op]; ok {
			source = "config"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", op, r.Method, r.Path, dash(r.ContentType), dash(r.Part), dash(r.Signature), source)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fields, err := fips.ResolveFields(fipsFields(cfg))
	if err != nil {
		return fmt.Errorf("config: upstreams.fips.%w", err)
	}
	defaults := map[string]string{}
	for _, f := range fips.DefaultFields().FieldTable() {
		defaults[f[0]] = f[1]
	}
	fmt.Fprintf(w, "\n# FIPS request body member names (upstreams.fips.fields), equally unverified\n")
	fmt.Fprintln(tw, "FIELD\tNAME\tSOURCE")
	for _, f := range fields.FieldTable() {
		source := "default"
		if f[1] != defaults[f[0]] {
			source = "config"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", f[0], f[1], source)
	}
	return tw.Flush()
}
