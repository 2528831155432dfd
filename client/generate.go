// Package client is the typed Go client of the legalgate REST API, generated
// from api/openapi.yaml. Internal services import it instead of writing HTTP
// calls:
//
//	c, _ := client.NewClientWithResponses("http://gateway:8080",
//		client.WithRequestEditorFn(func(ctx context.Context, r *http.Request) error {
//			r.Header.Set("Authorization", "Bearer "+key)
//			return nil
//		}))
//	res, err := c.GarantGetTopicWithResponse(ctx, 12345)
package client

//go:generate go tool oapi-codegen -config oapi-codegen.yaml ../api/openapi.yaml
