package quota

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package if a test leaves a goroutine behind: Run's
// subscription must stop with its context.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
