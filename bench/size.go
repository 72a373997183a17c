package bench

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/aws-sdk-go-v2/service/ssm/types"
)

// AWS list prices used for costs (us-east-1), as of PricesDate. AWS's
// pricing page (https://aws.amazon.com/systems-manager/pricing/) could not
// be fetched from where this was written; the figures are the ones public
// sources quote from it, and AWS's tier documentation confirms that
// Standard parameters carry no charge and Advanced ones do. docs/bench.md
// lists the sources.
const (
	// AdvancedParameterMonth is the charge per Advanced parameter per month
	// (prorated hourly). Standard parameters have no storage charge.
	AdvancedParameterMonth = 0.05
	// APIPer10k is the charge per 10,000 API interactions with higher
	// throughput enabled (and for Advanced parameters).
	APIPer10k = 0.05
	// PricesDate is when the prices above were checked.
	PricesDate = "2026-12-03"
)

// SizePoint is one store at one state size.
type SizePoint struct {
	Target  int `json:"target"`  // requested bytes of values
	Size    int `json:"size"`    // actual bytes of values
	Encoded int `json:"encoded"` // bytes in awsstore's single-parameter format
	Keys    int `json:"keys"`
	// OK is false when the store could not hold the state; Error says why.
	OK    bool   `json:"ok"`
	Error string `json:"error,omitempty"`
	// Write is one WriteState of a new key into the full state (which
	// saves the whole state); Read is opening the store (which loads it).
	Write      time.Duration `json:"writeNs"`
	Read       time.Duration `json:"readNs"`
	WriteCalls Counts        `json:"writeCalls"`
	ReadCalls  Counts        `json:"readCalls"`
	// Parameters and Advanced count the parameters holding the state.
	Parameters int    `json:"parameters"`
	Advanced   int    `json:"advanced"`
	Tier       string `json:"tier"`
	// MonthlyUSD is the storage charge plus the API charge of one write
	// and one read an hour (730 a month) at higher throughput.
	StorageUSD float64 `json:"storageUsdMonth"`
	APIUSD     float64 `json:"apiUsdMonth"`
}

// SizeResult is the size sweep's result.
type SizeResult struct {
	Config Config               `json:"config"`
	Points map[Kind][]SizePoint `json:"points"`
}

// Size sweeps state sizes (realistic content: node keys, JSON
// preferences, PEM certificate chains and keys made with crypto/x509). At
// each size each store is given the state (without latency), then, with
// latency, is reopened (read) and writes one more key (write).
func Size(ctx context.Context, cfg Config) (*SizeResult, error) {
	e, done, err := newEnv(ctx, cfg.Latency)
	if err != nil {
		return nil, err
	}
	defer done()
	res := &SizeResult{Config: cfg, Points: map[Kind][]SizePoint{}}
	for _, target := range cfg.Sizes {
		items := sizedState(target)
		last := items[len(items)-1]
		seed := items[:len(items)-1]
		for _, kind := range Kinds {
			cfg.logf("size: %s, %s", humanBytes(int64(target)), kind)
			p := SizePoint{Target: target, Size: stateSize(items), Encoded: encodedSize(items), Keys: len(items)}
			name := fmt.Sprintf("bench/size/%s/s%07d", kind, target)
			if err := sizeOne(ctx, e, cfg, kind, name, seed, last, &p); err != nil {
				p.OK, p.Error = false, err.Error()
			} else {
				p.OK = true
			}
			if err := countParameters(ctx, e, "/"+name, &p); err != nil {
				return nil, err
			}
			res.Points[kind] = append(res.Points[kind], p)
		}
	}
	return res, nil
}

func sizeOne(ctx context.Context, e *env, cfg Config, kind Kind, name string, seed []Item, last Item, p *SizePoint) error {
	e.srv.SetLatency(0)
	n, err := e.open(ctx, kind, name)
	if err != nil {
		return err
	}
	if kind == Ours {
		// Concurrent writers: the store batches them into few commits.
		var mu sync.Mutex
		var firstErr error
		parallel(len(seed), 16, func(i int) {
			if err := n.WriteState(keyOf(seed[i].Key), seed[i].Value); err != nil {
				mu.Lock()
				firstErr = err
				mu.Unlock()
			}
		})
		err = firstErr
	} else {
		// awsstore: one at a time (concurrent puts collide); it stops
		// at the first write that fails.
		for i, it := range seed {
			if err = n.WriteState(keyOf(it.Key), it.Value); err != nil {
				err = fmt.Errorf("the write of key %d of %d failed, taking the state to %d bytes of values (%d characters as JSON): %w",
					i+1, len(seed), stateSize(seed[:i+1]), encodedSize(seed[:i+1]), err)
				break
			}
		}
	}
	if cerr := n.close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}

	e.srv.SetLatency(cfg.Latency)
	defer e.srv.SetLatency(0)
	e.proxy.Take()
	start := time.Now()
	n, err = e.open(ctx, kind, name)
	if err != nil {
		return err
	}
	defer n.close()
	for _, it := range seed {
		v, err := n.ReadState(keyOf(it.Key))
		if err != nil || !bytes.Equal(v, it.Value) {
			return fmt.Errorf("read back %s: wrong value (%v)", it.Key, err)
		}
	}
	p.Read = time.Since(start)
	p.ReadCalls = e.proxy.Take()
	start = time.Now()
	err = n.WriteState(keyOf(last.Key), last.Value)
	p.Write = time.Since(start)
	p.WriteCalls = e.proxy.Take()
	return err
}

// countParameters counts the parameters named name or name.* and their
// tiers, and prices them.
func countParameters(ctx context.Context, e *env, name string, p *SizePoint) error {
	pg := ssm.NewDescribeParametersPaginator(e.ssm, &ssm.DescribeParametersInput{
		ParameterFilters: []types.ParameterStringFilter{{Key: aws.String("Name"), Option: aws.String("BeginsWith"), Values: []string{name}}},
		MaxResults:       aws.Int32(50),
	})
	for pg.HasMorePages() {
		out, err := pg.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("size sweep: list parameters under %s: %w", name, err)
		}
		for _, m := range out.Parameters {
			n := aws.ToString(m.Name)
			if n != name && !strings.HasPrefix(n, name+".") {
				continue
			}
			p.Parameters++
			if m.Tier == types.ParameterTierAdvanced {
				p.Advanced++
			}
		}
	}
	switch {
	case p.Parameters == 0:
		p.Tier = "—"
	case p.Advanced == 0:
		p.Tier = "Standard"
	case p.Advanced == p.Parameters:
		p.Tier = "Advanced"
	default:
		p.Tier = "mixed"
	}
	p.StorageUSD = float64(p.Advanced) * AdvancedParameterMonth
	if p.OK {
		calls := p.ReadCalls.SSMCalls + p.WriteCalls.SSMCalls
		p.APIUSD = float64(calls) * 730 * APIPer10k / 10000
	}
	return nil
}

// Table renders the result.
func (r *SizeResult) Table() Table {
	t := Table{
		Scenario: "size",
		Title:    "State size sweep: realistic content from 1 KiB to 1 MiB",
		Settings: []string{
			fmt.Sprintf("latency %v per call, no quota; read = open a new store (load the state) and read every key; write = one more key into the full state, the first write of that store (for ssmstate it includes the one DescribeParameters a store makes after its first save)", r.Config.Latency),
			fmt.Sprintf("cost: $%.2f per Advanced parameter-month; API $%.2f per 10,000 interactions at higher throughput, for 1 write + 1 read an hour (730 a month); AWS list prices read %s", AdvancedParameterMonth, APIPer10k, PricesDate),
		},
	}
	ours, theirs := r.Points[Ours], r.Points[Theirs]
	for i := range ours {
		o := ours[i]
		var th SizePoint
		if i < len(theirs) {
			th = theirs[i]
		}
		label := fmt.Sprintf("%s (%s, %d keys)", humanBytes(int64(o.Size)), humanBytes(int64(o.Encoded))+" as JSON", o.Keys)
		cell := func(p SizePoint, f func(SizePoint) string) string {
			if !p.OK {
				return "fails"
			}
			return f(p)
		}
		limit := "fits one Standard parameter"
		switch {
		case o.Encoded > 8192:
			limit = "> 8 KB: no single parameter holds it"
		case o.Encoded > 4096:
			limit = "> 4 KB: one parameter only if Advanced"
		}
		wr := func(p SizePoint) string { return secs(p.Write) }
		rd := func(p SizePoint) string { return secs(p.Read) }
		t.Rows = append(t.Rows,
			Row{label + ": write", cell(o, wr), cell(th, wr), okRatio(o, th, float64(o.Write), float64(th.Write)), limit},
			Row{label + ": read", cell(o, rd), cell(th, rd), okRatio(o, th, float64(o.Read), float64(th.Read)), ""},
			Row{label + ": SSM calls write / read", cell(o, callsWR), cell(th, callsWR), "", ""},
			Row{label + ": parameters, tier", paramsTier(o), paramsTier(th), "", ""},
			Row{label + ": $ per month (storage + API)", cell(o, cost), cell(th, cost), "", ""},
		)
		if !th.OK && th.Error != "" {
			t.Notes = append(t.Notes, fmt.Sprintf("awsstore at %s: %s", humanBytes(int64(o.Size)), truncate(th.Error, 240)))
		}
		if !o.OK && o.Error != "" {
			t.Notes = append(t.Notes, fmt.Sprintf("ssmstate at %s: %s", humanBytes(int64(o.Size)), truncate(o.Error, 240)))
		}
	}
	return t
}

func okRatio(o, t SizePoint, a, b float64) string {
	if !o.OK || !t.OK {
		return "—"
	}
	return ratio(a, b)
}

func callsWR(p SizePoint) string {
	return fmt.Sprintf("%d / %d", p.WriteCalls.SSMCalls, p.ReadCalls.SSMCalls)
}

func paramsTier(p SizePoint) string {
	if p.Parameters == 0 {
		return "none"
	}
	if !p.OK {
		return fmt.Sprintf("%d %s (state before the failing write)", p.Parameters, p.Tier)
	}
	return fmt.Sprintf("%d %s", p.Parameters, p.Tier)
}

func cost(p SizePoint) string {
	return fmt.Sprintf("%.4f + %.4f", p.StorageUSD, p.APIUSD)
}
