// Package apispec holds the gateway's OpenAPI contract; its test validates it.
package apispec
