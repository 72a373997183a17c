package doctor

import (
	"context"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/ssmstate/ssmstate/ops"
)

// CheckStateReplicas compares the state with its copies (made by `ssmstate
// replicate`) in the other Regions of its multi-Region key. It is reported
// only for a multi-Region key.
const CheckStateReplicas = "state-replicas"

// checkReplicas: for a multi-Region key, is the state's copy in each other
// Region of the key identical to this state? An absent copy passes (a copy
// is a choice), a copy that differs or cannot be read is a warning whose
// fix refreshes it. It only reads.
func (r *runner) checkReplicas(ctx context.Context) {
	if r.key == nil || !aws.ToBool(r.key.MultiRegion) {
		return
	}
	ctx, cancel := r.bound(ctx)
	defer cancel()
	cfg := r.cfg
	reps, err := ops.Replicas(ctx, r.locStr, nil, r.key, ops.Options{AWSConfig: &cfg, Timeout: r.opts.Timeout})
	if err != nil {
		r.add(CheckStateReplicas, Warn, "cannot compare with the copies in the key's other Regions: "+err.Error(), "")
		return
	}
	if len(reps) == 0 {
		r.add(CheckStateReplicas, Pass, "multi-Region key with no replica in another Region: no copies to compare", "")
		return
	}
	st := Pass
	var details, fixes []string
	for _, rep := range reps {
		d := rep.Region + ": " + rep.Status
		switch rep.Status {
		case ops.ReplicaInSync:
			d += fmt.Sprintf(" (%d keys)", rep.Keys)
		case ops.ReplicaAbsent:
			d += " (the key has a replica there; `ssmstate replicate` makes a copy for recovery)"
		case ops.ReplicaDiffers:
			st = Warn
			d += " (" + rep.Diff + ")"
			fixes = append(fixes, rep.Fix)
		case ops.ReplicaUnreadable:
			st = Warn
			d += " (" + rep.Error + ")"
			fixes = append(fixes, rep.Fix)
		}
		details = append(details, d)
	}
	r.add(CheckStateReplicas, st, "copies in the key's other Regions: "+strings.Join(details, "; "), strings.Join(fixes, "; "))
}
