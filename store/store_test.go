package store_test

import (
	"context"
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

// BenchmarkWriteStateParallel shows group commit on the file backend:
// parallel writers share fsyncs (compare Saves/op with -cpu 1 and more).
func BenchmarkWriteStateParallel(b *testing.B) {
	var saves atomic.Int64
	s, err := store.Open(context.Background(), filepath.Join(b.TempDir(), "s"), store.WithSaveObserver(func() { saves.Add(1) }))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	var n atomic.Int64
	b.RunParallel(func(pb *testing.PB) {
		key := fmt.Sprint("k", n.Add(1))
		i := 0
		for pb.Next() {
			i++
			if err := s.WriteState(context.Background(), key, fmt.Appendf(nil, "%d", i)); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(saves.Load())/float64(b.N), "saves/op")
}
