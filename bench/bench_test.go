package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// tiny is a configuration small enough for CI: every scenario still runs
// both stores through the real endpoint, but in seconds.
func tiny() Config {
	return Config{
		Latency:         time.Millisecond,
		Restarts:        3,
		Writers:         4,
		WritesPerWriter: 10,
		Nodes:           30,
		ReadRate:        40,
		LoginNodes:      8,
		WriteRate:       40,
		Sizes:           []int{1 << 10, 16 << 10},
	}
}

func runScenario(t *testing.T, name string, cfg Config) Result {
	t.Helper()
	sc, ok := Lookup(name)
	if !ok {
		t.Fatalf("no scenario %q", name)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	r, err := sc.Run(ctx, cfg)
	if err != nil {
		t.Fatalf("scenario %s: %v", name, err)
	}
	tb := r.Table()
	if tb.Scenario != name || len(tb.Rows) == 0 {
		t.Fatalf("scenario %s: table %q with %d rows", name, tb.Scenario, len(tb.Rows))
	}
	var buf bytes.Buffer
	tb.Print(&buf)
	t.Log("\n" + buf.String())
	if _, err := json.Marshal(r); err != nil {
		t.Fatalf("scenario %s: result does not marshal: %v", name, err)
	}
	return r
}

func TestLifecycle(t *testing.T) {
	r := runScenario(t, "lifecycle", tiny()).(*LifecycleResult)
	o, th := r.Stores[Ours], r.Stores[Theirs]
	if o.Errors != 0 || th.Errors != 0 {
		t.Errorf("errors: ssmstate %d, awsstore %d", o.Errors, th.Errors)
	}
	if o.FirstLogin.SSMCalls == 0 || th.FirstLogin.SSMCalls == 0 || o.Restarts.SSMCalls == 0 || th.Restarts.SSMCalls == 0 {
		t.Errorf("no calls counted: %+v / %+v", o, th)
	}
	// Facts of the two designs, not speed: ssmstate saves nothing for an
	// unchanged write; awsstore puts the whole state for every write.
	if o.UnchangedSSMCalls != 0 {
		t.Errorf("ssmstate made %d SSM calls for unchanged writes, want 0", o.UnchangedSSMCalls)
	}
	if th.UnchangedSSMCalls != r.Restarts {
		t.Errorf("awsstore made %d SSM calls for %d unchanged writes, want one each", th.UnchangedSSMCalls, r.Restarts)
	}
	if o.FirstLogin.BytesSent == 0 || th.FirstLogin.BytesSent == 0 {
		t.Error("no bytes counted")
	}
}

func TestConcurrent(t *testing.T) {
	cfg := tiny()
	r := runScenario(t, "concurrent", cfg).(*ConcurrentResult)
	o, th := r.Stores[Ours], r.Stores[Theirs]
	if o.Lost != 0 || o.Errors != 0 {
		t.Errorf("ssmstate: %d lost updates, %d failed writes; want none", o.Lost, o.Errors)
	}
	if o.Writes != cfg.Writers*cfg.WritesPerWriter || th.Writes != o.Writes {
		t.Errorf("writes: %d / %d", o.Writes, th.Writes)
	}
	if o.Commits == 0 || o.Commits > o.Writes || th.Commits == 0 {
		t.Errorf("commits: ssmstate %d, awsstore %d, for %d writes", o.Commits, th.Commits, o.Writes)
	}
	if o.WritesPerS <= 0 || th.WritesPerS <= 0 {
		t.Errorf("writes/s: %v / %v", o.WritesPerS, th.WritesPerS)
	}
}

func TestFleetRestart(t *testing.T) {
	cfg := tiny()
	r := runScenario(t, "fleet-restart", cfg).(*FleetRestartResult)
	o, th := r.Stores[Ours], r.Stores[Theirs]
	if o.Failed != 0 || len(o.Ready) != cfg.Nodes {
		t.Errorf("ssmstate: %d of %d nodes started, %d failed (%s)", len(o.Ready), cfg.Nodes, o.Failed, o.FirstError)
	}
	if len(th.Ready)+th.Failed != cfg.Nodes {
		t.Errorf("awsstore: %d started + %d failed != %d nodes", len(th.Ready), th.Failed, cfg.Nodes)
	}
	if o.Calls.SSMCalls < cfg.Nodes || th.Calls.SSMCalls < cfg.Nodes {
		t.Errorf("SSM calls: %d / %d, want at least one a node", o.Calls.SSMCalls, th.Calls.SSMCalls)
	}
	if o.FirstRead <= 0 || o.AllFromFirstRead() < 0 || o.AllFromFirstRead() > o.All() {
		t.Errorf("ssmstate: first read at %v, all at %v, from the first read %v", o.FirstRead, o.All(), o.AllFromFirstRead())
	}
	// 30 nodes against a bucket of 40: nobody needs to be throttled.
	if o.Calls.Throttled != 0 {
		t.Errorf("ssmstate was throttled %d times within the burst", o.Calls.Throttled)
	}
}

func TestFleetRestartThrottled(t *testing.T) {
	// More nodes than the bucket holds: both stores are throttled, and
	// ssmstate's nodes still all start.
	cfg := tiny()
	cfg.Nodes, cfg.ReadRate = 40, 10
	r := runScenario(t, "fleet-restart", cfg).(*FleetRestartResult)
	o, th := r.Stores[Ours], r.Stores[Theirs]
	if o.Failed != 0 {
		t.Errorf("ssmstate: %d nodes failed to start: %s", o.Failed, o.FirstError)
	}
	if o.Calls.Throttled == 0 || th.Calls.Throttled == 0 {
		t.Errorf("throttled calls: ssmstate %d, awsstore %d; the quota was not felt", o.Calls.Throttled, th.Calls.Throttled)
	}
}

func TestFleetLogin(t *testing.T) {
	cfg := tiny()
	r := runScenario(t, "fleet-login", cfg).(*FleetLoginResult)
	o, th := r.Stores[Ours], r.Stores[Theirs]
	if o.Failed != 0 || len(o.Ready) != cfg.LoginNodes {
		t.Errorf("ssmstate: %d of %d nodes durable (%s)", len(o.Ready), cfg.LoginNodes, o.FirstError)
	}
	if len(th.Ready)+th.Failed != cfg.LoginNodes {
		t.Errorf("awsstore: %d durable + %d not != %d", len(th.Ready), th.Failed, cfg.LoginNodes)
	}
	if o.Calls.Calls["ssm.PutParameter"] < cfg.LoginNodes || th.Calls.Calls["ssm.PutParameter"] < cfg.LoginNodes {
		t.Errorf("puts: %v / %v", o.Calls.Calls, th.Calls.Calls)
	}
}

func TestSize(t *testing.T) {
	r := runScenario(t, "size", tiny()).(*SizeResult)
	o, th := r.Points[Ours], r.Points[Theirs]
	if len(o) != 2 || len(th) != 2 {
		t.Fatalf("points: %d / %d", len(o), len(th))
	}
	for _, p := range o {
		if !p.OK {
			t.Errorf("ssmstate failed at %d bytes: %s", p.Size, p.Error)
		}
		if p.Tier != "Standard" || p.Advanced != 0 {
			t.Errorf("ssmstate at %d bytes: tier %s, %d Advanced; want Standard by default", p.Size, p.Tier, p.Advanced)
		}
		if p.WriteCalls.SSMCalls == 0 || p.ReadCalls.SSMCalls == 0 {
			t.Errorf("ssmstate at %d bytes: no calls counted", p.Size)
		}
	}
	if o[1].Parameters < 2 {
		t.Errorf("ssmstate at %d bytes (%d encoded) used %d parameters; want a manifest and parts", o[1].Size, o[1].Encoded, o[1].Parameters)
	}
	if !th[0].OK {
		t.Errorf("awsstore failed at %d bytes: %s", th[0].Size, th[0].Error)
	}
	if th[1].OK || th[1].Error == "" {
		t.Errorf("awsstore held a %d-byte state (%d encoded) in one parameter", th[1].Size, th[1].Encoded)
	}
}

func TestSizedStateIsRealistic(t *testing.T) {
	items := sizedState(64 << 10)
	if n := stateSize(items); n < 64<<10 || n > 70<<10 {
		t.Errorf("size %d, want about 64 KiB", n)
	}
	var certs, keys int
	for _, it := range items {
		switch {
		case strings.HasSuffix(it.Key, ".crt"):
			certs++
			if !bytes.HasPrefix(it.Value, []byte("-----BEGIN CERTIFICATE-----")) {
				t.Errorf("%s is not PEM", it.Key)
			}
		case strings.HasSuffix(it.Key, ".key"):
			keys++
		}
	}
	if certs == 0 || certs != keys {
		t.Errorf("%d certificates, %d keys", certs, keys)
	}
}

func TestPlot(t *testing.T) {
	cfg := tiny()
	cfg.Nodes = 10
	fr := runScenario(t, "fleet-restart", cfg).(*FleetRestartResult)
	cfg.Sizes = []int{1 << 10}
	sz := runScenario(t, "size", cfg).(*SizeResult)
	for _, ext := range []string{".png", ".svg"} {
		path := filepath.Join(t.TempDir(), "bench"+ext)
		if err := Plot(path, fr, sz); err != nil {
			t.Fatalf("plot %s: %v", ext, err)
		}
		b, err := os.ReadFile(path)
		if err != nil || len(b) < 1000 {
			t.Fatalf("plot %s: %d bytes, %v", ext, len(b), err)
		}
	}
}

func TestCPUTable(t *testing.T) {
	r := &CPUResult{Rows: []CPURow{{Name: "x", Ours: CPUStat{N: 10, NsPerOp: 2000, BytesPerOp: 100, AllocsPerOp: 3}, Theirs: CPUStat{N: 10, NsPerOp: 1000}}}}
	tb := r.Table()
	if len(tb.Rows) != 1 || tb.Rows[0].Ratio != "2.00× time" {
		t.Errorf("table: %+v", tb.Rows)
	}
}

// Go benchmarks of the hot paths: go test -bench . -benchmem ./bench

func BenchmarkSaveFirstLogin(b *testing.B) { BenchSave(0)(b) }
func BenchmarkLoadFirstLogin(b *testing.B) { BenchLoad(0)(b) }
func BenchmarkSave256KiB(b *testing.B)     { BenchSave(256 << 10)(b) }
func BenchmarkLoad256KiB(b *testing.B)     { BenchLoad(256 << 10)(b) }
func BenchmarkSave1MiB(b *testing.B)       { BenchSave(1 << 20)(b) }
func BenchmarkLoad1MiB(b *testing.B)       { BenchLoad(1 << 20)(b) }

func BenchmarkWriteStateMem(b *testing.B)         { BenchStoreWrite(OpenMem)(b) }
func BenchmarkWriteStateMemParallel(b *testing.B) { BenchStoreWriteParallel(OpenMem)(b) }
func BenchmarkReadStateMem(b *testing.B)          { BenchStoreRead(OpenMem)(b) }

// BenchmarkEndpoint runs the store against the in-process endpoint, and
// awsstore beside it, through the scenario runner's benchmarks.
func BenchmarkEndpoint(b *testing.B) {
	ctx := context.Background()
	e, done, err := newEnv(ctx, 0)
	if err != nil {
		b.Fatal(err)
	}
	defer done()
	for _, x := range endpointBenchmarks(ctx, e) {
		b.Run(x.name, x.f)
	}
}
