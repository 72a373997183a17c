package ssmparam

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/aws-sdk-go-v2/service/ssm/types"
	"github.com/aws/smithy-go"
)

// The sweeper removes parts that no manifest will ever name: a writer killed
// after its commit but before its cleanup leaves the superseded generation
// behind, and one killed while writing parts leaves an uncommitted one that
// the next writer only finds if it happens to pick the same generation. Such
// parts cost a Standard parameter each (10,000 per account and Region) and
// hold old state under old keys, so after a successful commit the backend
// lists N.part-* and deletes every generation other than the one in effect.
//
// It stays bounded and safe:
//   - it runs only when there can be garbage this backend knows of: the
//     state it loaded was multi-part or on the side parameter N.moving, or
//     it committed, superseded or abandoned a multi-part generation itself.
//     A single-parameter state (every Tailscale node below 4 KB) never
//     lists. The price: parts that another writer left behind when it
//     crashed while the state went back to a single parameter stay until
//     the next multi-part event of a backend on this parameter;
//   - then after the first successful Save of a Backend and at most once
//     per SweepInterval, so a steady writer of a large state pays one
//     DescribeParameters call now and then, not one per write;
//   - it reads at most sweepMaxPages pages (50 names each); what is left
//     is swept the next time;
//   - generations older than the one in effect are dead (a manifest is only
//     ever replaced by a newer generation), so they go at once; a generation
//     newer than the one in effect, or any when the state is a single
//     parameter, might be a racing writer's parts that its commit is about to
//     name, so they go only once older than SweepGrace (longer than any
//     Save may take; SigV4 keeps client clocks within 5 minutes of AWS);
//   - before deleting, it checks (one GetParameter without decryption, only
//     when there is something to delete) that the main parameter is still
//     at the version this backend committed: a stale writer's commit can
//     name an older generation than ours (see docs/format.md), and its parts
//     must not go;
//   - failures (e.g. no ssm:DescribeParameters permission) only leave the
//     garbage where it is: they are logged, never returned.
const (
	SweepInterval = 15 * time.Minute
	SweepGrace    = 15 * time.Minute
	sweepMaxPages = 20
)

// describer is the call the sweeper needs beyond Client; *ssm.Client has it.
// A Client without it (a test double) is simply not swept.
type describer interface {
	DescribeParameters(ctx context.Context, in *ssm.DescribeParametersInput, optFns ...func(*ssm.Options)) (*ssm.DescribeParametersOutput, error)
}

// sweep deletes parts of generations no manifest names (see above). The
// backend has just committed b.version with generation b.gen.
func (b *Backend) sweep(ctx context.Context) {
	if !b.mayHaveGarbage {
		return
	}
	now := time.Now()
	if !b.lastSweep.IsZero() && now.Sub(b.lastSweep) < SweepInterval {
		return
	}
	d, ok := b.c.Client.(describer)
	if !ok {
		return
	}
	b.lastSweep, b.mayHaveGarbage = now, false
	prefix := b.c.ParameterName + ".part-"
	in := &ssm.DescribeParametersInput{
		MaxResults: aws.Int32(50),
		ParameterFilters: []types.ParameterStringFilter{{
			Key: aws.String("Name"), Option: aws.String("BeginsWith"), Values: []string{prefix},
		}},
	}
	var garbage []string
	pages := ssm.NewDescribeParametersPaginator(d, in)
	for n := 0; n < sweepMaxPages && pages.HasMorePages(); n++ {
		page, err := pages.NextPage(ctx)
		if err != nil {
			level := "could not list SSM parameters to sweep parts no manifest names; they stay until a later sweep"
			var ae smithy.APIError
			if errors.As(err, &ae) && strings.Contains(ae.ErrorCode(), "AccessDenied") {
				// A least-privilege policy need not allow
				// ssm:DescribeParameters: the store works without it.
				b.log.DebugContext(ctx, level, "parameter", b.name, "err", err)
			} else {
				b.log.WarnContext(ctx, level, "parameter", b.name, "err", err)
			}
			break
		}
		for _, md := range page.Parameters {
			name := aws.ToString(md.Name)
			gen, ok := partGeneration(prefix, name)
			if !ok || (gen == b.gen && b.gen != 0) {
				continue
			}
			old := md.LastModifiedDate != nil && now.Sub(*md.LastModifiedDate) > SweepGrace
			if (b.gen != 0 && gen < b.gen) || old {
				garbage = append(garbage, name)
			}
		}
	}
	if len(garbage) > 0 {
		if cur, _, err := b.currentVersion(ctx, false); err != nil || cur != b.version {
			// Another writer committed since (or we cannot tell): what
			// looks dead may be what its manifest names.
			b.log.WarnContext(ctx, "not sweeping SSM state parts: the main parameter changed since this store committed, or its version could not be read",
				"parameter", b.name, "version", b.version, "current", cur, "err", err)
			b.mayHaveGarbage = true
			return
		}
		n := b.deleteAll(ctx, garbage)
		b.log.InfoContext(ctx, "swept SSM state parts that no manifest names (left by an interrupted writer)",
			"parameter", b.name, "deleted", n, "generation", b.gen)
	}
}

// partGeneration parses "<prefix><gen>-<index>" (prefix is "N.part-").
func partGeneration(prefix, name string) (uint64, bool) {
	rest, ok := strings.CutPrefix(name, prefix)
	if !ok {
		return 0, false
	}
	g, idx, ok := strings.Cut(rest, "-")
	if !ok {
		return 0, false
	}
	gen, err := strconv.ParseUint(g, 10, 64)
	if err != nil || gen == 0 {
		return 0, false
	}
	if _, err := strconv.Atoi(idx); err != nil {
		return 0, false
	}
	return gen, true
}
