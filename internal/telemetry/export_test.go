package telemetry

import (
	"context"
	"net"
	"sync"
	"testing"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
)

// grpcReceiver is an in-process OTLP/gRPC trace receiver: it keeps the
// names of the spans exported to it and the authorization metadata.
type grpcReceiver struct {
	coltracepb.UnimplementedTraceServiceServer
	mu    sync.Mutex
	names []string
	auth  []string
}

func (g *grpcReceiver) Export(ctx context.Context, req *coltracepb.ExportTraceServiceRequest) (*coltracepb.ExportTraceServiceResponse, error) {
	md, _ := metadata.FromIncomingContext(ctx)
	g.mu.Lock()
	defer g.mu.Unlock()
	g.auth = append(g.auth, md.Get("authorization")...)
	for _, rs := range req.GetResourceSpans() {
		for _, ss := range rs.GetScopeSpans() {
			for _, s := range ss.GetSpans() {
				g.names = append(g.names, s.GetName())
			}
		}
	}
	return &coltracepb.ExportTraceServiceResponse{}, nil
}

// TestExportOverGRPC: OTEL_EXPORTER_OTLP_PROTOCOL=grpc (or its _TRACES_
// form) sends the spans to the endpoint over OTLP/gRPC, with the headers of
// OTEL_EXPORTER_OTLP_HEADERS.
func TestExportOverGRPC(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	recv := &grpcReceiver{}
	srv := grpc.NewServer()
	coltracepb.RegisterTraceServiceServer(srv, recv)
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(srv.Stop)
	endpoint := "http://" + ln.Addr().String()
	for i, env := range []map[string]string{
		{"OTEL_EXPORTER_OTLP_ENDPOINT": endpoint, "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc", "OTEL_EXPORTER_OTLP_HEADERS": "authorization=Bearer%20collector-token"},
		{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": endpoint, "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "grpc", "OTEL_EXPORTER_OTLP_TRACES_HEADERS": "authorization=Bearer%20collector-token"},
	} {
		tel, err := New(context.Background(), envOf(env), "")
		if err != nil || !tel.Enabled() {
			t.Fatalf("New(%v) = %v, %v; want tracing on", env, tel, err)
		}
		_, span := tel.TracerProvider().Tracer("test").Start(context.Background(), "grpc-export")
		span.End()
		if err := tel.Shutdown(context.Background()); err != nil { // exports what is buffered
			t.Fatalf("Shutdown with %v = %v", env, err)
		}
		recv.mu.Lock()
		names, auth := len(recv.names), len(recv.auth)
		last, lastAuth := "", ""
		if names > 0 {
			last = recv.names[names-1]
		}
		if auth > 0 {
			lastAuth = recv.auth[auth-1]
		}
		recv.mu.Unlock()
		if names != i+1 || last != "grpc-export" || lastAuth != "Bearer collector-token" {
			t.Errorf("with %v the gRPC receiver has %d spans (last %q, authorization %q), want %d, the last grpc-export with the header", env, names, last, lastAuth, i+1)
		}
	}
}
