package apispec

import _ "embed"

// YAML is api/openapi.yaml as written, served at /openapi.yaml.
//
//go:embed openapi.yaml
var YAML []byte
