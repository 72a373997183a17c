package bench

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/aws-sdk-go-v2/service/ssm/types"

	"github.com/ssmstate/ssmstate/store"
	"github.com/ssmstate/ssmstate/store/ssmparam"
)

// memSSM is an in-memory SSM Parameter Store holding plain values, with
// versions and create-only puts: enough for ssmparam.Backend, so that its
// CPU and memory (encode, compress, split, join, decode) can be measured
// without HTTP or encryption in the way. Correctness is tested against
// the real endpoint elsewhere; this is for benchmarks only.
type memSSM struct {
	mu sync.Mutex
	p  map[string]types.Parameter
}

func newMemSSM() *memSSM { return &memSSM{p: map[string]types.Parameter{}} }

func (m *memSSM) GetParameter(ctx context.Context, in *ssm.GetParameterInput, _ ...func(*ssm.Options)) (*ssm.GetParameterOutput, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	p, ok := m.p[aws.ToString(in.Name)]
	if !ok {
		return nil, &types.ParameterNotFound{}
	}
	return &ssm.GetParameterOutput{Parameter: &p}, nil
}

func (m *memSSM) GetParameters(ctx context.Context, in *ssm.GetParametersInput, _ ...func(*ssm.Options)) (*ssm.GetParametersOutput, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := &ssm.GetParametersOutput{}
	for _, n := range in.Names {
		if p, ok := m.p[n]; ok {
			out.Parameters = append(out.Parameters, p)
		} else {
			out.InvalidParameters = append(out.InvalidParameters, n)
		}
	}
	return out, nil
}

func (m *memSSM) PutParameter(ctx context.Context, in *ssm.PutParameterInput, _ ...func(*ssm.Options)) (*ssm.PutParameterOutput, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	name := aws.ToString(in.Name)
	p, ok := m.p[name]
	if ok && !aws.ToBool(in.Overwrite) {
		return nil, &types.ParameterAlreadyExists{}
	}
	p.Name, p.Value, p.Type, p.Version = in.Name, in.Value, in.Type, p.Version+1
	m.p[name] = p
	return &ssm.PutParameterOutput{Version: p.Version, Tier: types.ParameterTierStandard}, nil
}

func (m *memSSM) DeleteParameter(ctx context.Context, in *ssm.DeleteParameterInput, _ ...func(*ssm.Options)) (*ssm.DeleteParameterOutput, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.p[aws.ToString(in.Name)]; !ok {
		return nil, &types.ParameterNotFound{}
	}
	delete(m.p, aws.ToString(in.Name))
	return &ssm.DeleteParameterOutput{}, nil
}

func (m *memSSM) DeleteParameters(ctx context.Context, in *ssm.DeleteParametersInput, _ ...func(*ssm.Options)) (*ssm.DeleteParametersOutput, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := &ssm.DeleteParametersOutput{}
	for _, n := range in.Names {
		if _, ok := m.p[n]; ok {
			delete(m.p, n)
			out.DeletedParameters = append(out.DeletedParameters, n)
		} else {
			out.InvalidParameters = append(out.InvalidParameters, n)
		}
	}
	return out, nil
}

var _ ssmparam.Client = (*memSSM)(nil)

func itemsMap(items []Item) map[string][]byte {
	m := make(map[string][]byte, len(items))
	for _, it := range items {
		m[it.Key] = it.Value
	}
	return m
}

func newMemBackend(b *testing.B) *ssmparam.Backend {
	be, err := ssmparam.New(context.Background(), ssmparam.Config{Client: newMemSSM(), ParameterName: "/bench/cpu", KMSKey: KeyName})
	if err != nil {
		b.Fatal(err)
	}
	return be
}

// stateOf is the first-login state of the trace (2.6 KB as JSON) for
// size 0, else a realistic state of size bytes.
func stateOf(size int) map[string][]byte {
	if size == 0 {
		return itemsMap(newNodeState("bench").firstLogin())
	}
	return itemsMap(sizedState(size))
}

// BenchSave measures ssmparam.Backend.Save of a state of size bytes (0:
// the trace's first-login state): encoding, and above 4 KB compression and
// the manifest + parts split.
func BenchSave(size int) func(b *testing.B) {
	return func(b *testing.B) {
		state := stateOf(size)
		be := newMemBackend(b)
		ctx := context.Background()
		b.ReportAllocs()
		b.ResetTimer()
		for b.Loop() {
			if err := be.Save(ctx, state); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// BenchLoad measures ssmparam.Backend.Load of a state of size bytes:
// decoding, and above 4 KB joining the parts, checking and decompressing.
func BenchLoad(size int) func(b *testing.B) {
	return func(b *testing.B) {
		state := stateOf(size)
		be := newMemBackend(b)
		ctx := context.Background()
		if err := be.Save(ctx, state); err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		b.ResetTimer()
		for b.Loop() {
			if _, err := be.Load(ctx); err != nil {
				b.Fatal(err)
			}
		}
	}
}

var benchSeq atomic.Int64

// BenchStoreWrite measures store.Store.WriteState of a changing 1.3 KB
// value (the profile of the trace) into loc, one writer at a time; loc ""
// is a fresh in-memory state.
func BenchStoreWrite(open func(b *testing.B) *store.Store) func(b *testing.B) {
	return func(b *testing.B) {
		st := open(b)
		defer st.Close()
		ns := newNodeState("bench")
		vals := [][]byte{ns.profile(1), ns.profile(2)}
		ctx := context.Background()
		b.ReportAllocs()
		b.ResetTimer()
		i := 0
		for b.Loop() {
			if err := st.WriteState(ctx, "profile-"+ns.profileID, vals[i%2]); err != nil {
				b.Fatal(err)
			}
			i++
		}
	}
}

// BenchStoreWriteParallel measures WriteState from GOMAXPROCS×4 writers
// at once, each writing its own key: the group commit's cost per write.
func BenchStoreWriteParallel(open func(b *testing.B) *store.Store) func(b *testing.B) {
	return func(b *testing.B) {
		st := open(b)
		defer st.Close()
		ctx := context.Background()
		b.ReportAllocs()
		b.SetParallelism(4)
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			key := fmt.Sprintf("writer-%d", benchSeq.Add(1))
			i := 0
			for pb.Next() {
				if err := st.WriteState(ctx, key, fmt.Appendf(nil, "value-%d", i)); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
	}
}

// BenchStoreRead measures ReadState of the 1.3 KB profile (from memory).
func BenchStoreRead(open func(b *testing.B) *store.Store) func(b *testing.B) {
	return func(b *testing.B) {
		st := open(b)
		defer st.Close()
		ns := newNodeState("bench")
		ctx := context.Background()
		if err := st.WriteState(ctx, "profile", ns.profile(0)); err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		b.ResetTimer()
		for b.Loop() {
			if _, err := st.ReadState(ctx, "profile"); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// OpenMem opens a fresh in-memory store.
func OpenMem(b *testing.B) *store.Store {
	st, err := store.Open(context.Background(), "mem:")
	if err != nil {
		b.Fatal(err)
	}
	return st
}

// CPURow is one benchmark's outcome for both stores (zero when a store has
// no counterpart).
type CPURow struct {
	Name   string  `json:"name"`
	Ours   CPUStat `json:"ssmstate"`
	Theirs CPUStat `json:"awsstore"`
}

// CPUStat is a testing.BenchmarkResult in numbers.
type CPUStat struct {
	N           int   `json:"n"`
	NsPerOp     int64 `json:"nsPerOp"`
	BytesPerOp  int64 `json:"bytesPerOp"`
	AllocsPerOp int64 `json:"allocsPerOp"`
}

func stat(r testing.BenchmarkResult) CPUStat {
	return CPUStat{N: r.N, NsPerOp: r.NsPerOp(), BytesPerOp: r.AllocedBytesPerOp(), AllocsPerOp: r.AllocsPerOp()}
}

// CPUResult is the CPU/memory scenario's result.
type CPUResult struct {
	Rows []CPURow `json:"rows"`
}

// CPU runs the hot-path benchmarks with testing.Benchmark (each about a
// second): the backend's encode/decode and split, the store against
// memory and against the in-process endpoint (no latency), and awsstore
// against the same endpoint.
func CPU(ctx context.Context, cfg Config) (*CPUResult, error) {
	e, done, err := newEnv(ctx, 0)
	if err != nil {
		return nil, err
	}
	defer done()
	ours, theirsWrite, theirsRead := endpointStores(ctx, e)
	type bm struct {
		name         string
		ours, theirs func(*testing.B)
	}
	list := []bm{
		{"backend Save, first-login state, 2.6 KB as JSON (one parameter)", BenchSave(0), nil},
		{"backend Load, first-login state", BenchLoad(0), nil},
		{"backend Save, 256 KiB state (compress + manifest + parts)", BenchSave(256 << 10), nil},
		{"backend Load, 256 KiB state (parts + decompress)", BenchLoad(256 << 10), nil},
		{"WriteState to mem:", BenchStoreWrite(OpenMem), nil},
		{"WriteState to mem:, parallel writers (group commit)", BenchStoreWriteParallel(OpenMem), nil},
		{"ReadState from memory", BenchStoreRead(OpenMem), theirsRead},
		{"WriteState to the endpoint (no latency)", BenchStoreWrite(ours), theirsWrite},
		{"WriteState to the endpoint, parallel writers", BenchStoreWriteParallel(ours), nil},
	}
	res := &CPUResult{}
	for _, x := range list {
		cfg.logf("cpu: %s", x.name)
		row := CPURow{Name: x.name, Ours: stat(testing.Benchmark(x.ours))}
		if x.theirs != nil {
			row.Theirs = stat(testing.Benchmark(x.theirs))
		}
		res.Rows = append(res.Rows, row)
	}
	return res, nil
}

// endpointStores returns an opener of ssmstate stores on e (through its
// proxy, as awsstore's calls go) and awsstore's write and read benchmarks
// on e.
func endpointStores(ctx context.Context, e *env) (ours func(*testing.B) *store.Store, theirsWrite, theirsRead func(*testing.B)) {
	// Through the proxy, as awsstore's calls go.
	viaProxy := e.cfg.Copy()
	viaProxy.BaseEndpoint = aws.String(e.proxy.URL)
	ours = func(b *testing.B) *store.Store {
		st, err := store.Open(context.Background(), arn(fmt.Sprintf("bench/cpu/ours/%d", benchSeq.Add(1)))+"?kmsKey="+KeyName, store.WithAWSConfig(viaProxy))
		if err != nil {
			b.Fatal(err)
		}
		return st
	}
	theirsWrite = func(b *testing.B) {
		n, err := e.open(ctx, Theirs, fmt.Sprintf("bench/cpu/theirs/%d", benchSeq.Add(1)))
		if err != nil {
			b.Fatal(err)
		}
		ns := newNodeState("bench")
		vals := [][]byte{ns.profile(1), ns.profile(2)}
		b.ReportAllocs()
		b.ResetTimer()
		i := 0
		for b.Loop() {
			if err := n.WriteState(keyOf("profile-"+ns.profileID), vals[i%2]); err != nil {
				b.Fatal(err)
			}
			i++
		}
	}
	theirsRead = func(b *testing.B) {
		n, err := e.open(ctx, Theirs, fmt.Sprintf("bench/cpu/theirs/%d", benchSeq.Add(1)))
		if err != nil {
			b.Fatal(err)
		}
		ns := newNodeState("bench")
		if err := n.WriteState("profile", ns.profile(0)); err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		b.ResetTimer()
		for b.Loop() {
			if _, err := n.ReadState("profile"); err != nil {
				b.Fatal(err)
			}
		}
	}
	return ours, theirsWrite, theirsRead
}

type namedBench struct {
	name string
	f    func(*testing.B)
}

// endpointBenchmarks are the benchmarks of both stores against e.
func endpointBenchmarks(ctx context.Context, e *env) []namedBench {
	ours, theirsWrite, theirsRead := endpointStores(ctx, e)
	return []namedBench{
		{"ssmstate/WriteState", BenchStoreWrite(ours)},
		{"awsstore/WriteState", theirsWrite},
		{"ssmstate/WriteStateParallel", BenchStoreWriteParallel(ours)},
		{"ssmstate/ReadState", BenchStoreRead(ours)},
		{"awsstore/ReadState", theirsRead},
	}
}

// Table renders the result.
func (r *CPUResult) Table() Table {
	t := Table{
		Scenario: "cpu",
		Title:    "CPU and memory per operation (Go benchmarks)",
		Settings: []string{"testing.Benchmark, about 1 s each; ns, bytes allocated and allocations per operation; the endpoint is in-process, without latency (its own CPU is included)"},
	}
	f := func(s CPUStat) string {
		if s.N == 0 {
			return "—"
		}
		return fmt.Sprintf("%s, %s, %d allocs", nsStr(s.NsPerOp), humanBytes(s.BytesPerOp), s.AllocsPerOp)
	}
	for _, x := range r.Rows {
		rt := "—"
		if x.Theirs.N > 0 {
			rt = ratio(float64(x.Ours.NsPerOp), float64(x.Theirs.NsPerOp)) + " time"
		}
		t.Rows = append(t.Rows, Row{x.Name, f(x.Ours), f(x.Theirs), rt, "—"})
	}
	return t
}

func nsStr(ns int64) string {
	switch {
	case ns >= 1e6:
		return fmt.Sprintf("%.2f ms", float64(ns)/1e6)
	case ns >= 1e3:
		return fmt.Sprintf("%.1f µs", float64(ns)/1e3)
	}
	return strings.TrimSpace(fmt.Sprintf("%d ns", ns))
}
