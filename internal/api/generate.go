// Package api holds only code generated from api/openapi.yaml by oapi-codegen
// (models, chi server, strict server, embedded spec). Never edit api.gen.go:
// change the spec and run `go generate ./...`.
package api

//go:generate go tool oapi-codegen -config oapi-codegen.yaml ../../api/openapi.yaml
