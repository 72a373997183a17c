package store_test

import (
	"fmt"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/ssmstate/ssmstate/store"
	"github.com/ssmstate/ssmstate/store/storetest"
)

var memSeq atomic.Int64

func TestSuiteMem(t *testing.T) {
	storetest.Run(t, func(t *testing.T) (string, []store.Option) {
		return fmt.Sprintf("mem:suite-%d", memSeq.Add(1)), nil
	})
}

func TestSuiteFile(t *testing.T) {
	storetest.Run(t, func(t *testing.T) (string, []store.Option) {
		// A directory that does not exist yet: the first Save creates it.
		return filepath.Join(t.TempDir(), "state", "tailscaled.state"), nil
	})
}
