package storeerr

import (
	"context"
	"errors"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/arn"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"
)

// KeyDescriber is the one KMS call CheckKey makes; *kms.Client has it.
type KeyDescriber interface {
	DescribeKey(ctx context.Context, in *kms.DescribeKeyInput, optFns ...func(*kms.Options)) (*kms.DescribeKeyOutput, error)
}

// CheckKey is the store's fail-fast key check: when s.Key is set it makes
// exactly one DescribeKey call (none when the key's ARN already names
// another Region) and returns an *Error unless the key exists, is Enabled, is
// a SYMMETRIC_DEFAULT ENCRYPT_DECRYPT key, and is in the parameter's
// Region. It returns the key's metadata when DescribeKey answered. With no
// key configured (SSM's aws/ssm key) it does nothing.
func CheckKey(ctx context.Context, api KeyDescriber, s Subject) (*kmstypes.KeyMetadata, error) {
	if s.Key == "" {
		return nil, nil
	}
	if a, err := arn.Parse(s.Key); err == nil && a.Region != "" && s.Region != "" && a.Region != s.Region {
		keyARN := ""
		if strings.HasPrefix(a.Resource, "key/") {
			keyARN = s.Key
		}
		return nil, keyOtherRegion(s, keyARN, a.Region, nil)
	}
	out, err := api.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(s.Key)})
	if err != nil {
		return nil, Classify(err, s)
	}
	if p := KeyProblem(out.KeyMetadata, s); p != nil {
		return out.KeyMetadata, p
	}
	return out.KeyMetadata, nil
}

// KeyProblem judges a key's metadata for use by Parameter Store on the
// parameter s names, returning nil when the key is usable: in the
// parameter's Region, SYMMETRIC_DEFAULT, ENCRYPT_DECRYPT and Enabled (checked
// in that order, most fundamental first).
func KeyProblem(m *kmstypes.KeyMetadata, s Subject) *Error {
	if e := KeyRegionProblem(m, s); e != nil {
		return e
	}
	if e := KeySpecProblem(m, s); e != nil {
		return e
	}
	return KeyStateProblem(m, s)
}

// KeyRegionProblem reports a key in another Region than the parameter.
func KeyRegionProblem(m *kmstypes.KeyMetadata, s Subject) *Error {
	if m == nil {
		return nil
	}
	keyARN := aws.ToString(m.Arn)
	if a, err := arn.Parse(keyARN); err == nil && s.Region != "" && a.Region != s.Region {
		return keyOtherRegion(s, keyARN, a.Region, nil)
	}
	return nil
}

// KeySpecProblem reports a key that is not a symmetric encryption key.
func KeySpecProblem(m *kmstypes.KeyMetadata, s Subject) *Error {
	if m == nil {
		return nil
	}
	keyARN := aws.ToString(m.Arn)
	if m.KeySpec != "" && m.KeySpec != kmstypes.KeySpecSymmetricDefault {
		return keyNotSymmetric(s, keyARN, string(m.KeySpec), nil)
	}
	if m.KeyUsage != "" && m.KeyUsage != kmstypes.KeyUsageTypeEncryptDecrypt {
		return keyWrongUsage(s, keyARN, string(m.KeyUsage), nil)
	}
	return nil
}

// KeyStateProblem reports a key that is not Enabled, with the deletion date
// of a key pending deletion.
func KeyStateProblem(m *kmstypes.KeyMetadata, s Subject) *Error {
	if m == nil {
		return nil
	}
	keyARN := aws.ToString(m.Arn)
	switch m.KeyState {
	case kmstypes.KeyStateEnabled:
		return nil
	case kmstypes.KeyStateDisabled:
		return keyDisabled(s, keyARN, nil)
	case kmstypes.KeyStatePendingDeletion, kmstypes.KeyStatePendingReplicaDeletion:
		return keyPendingDeletion(s, keyARN, aws.ToTime(m.DeletionDate), nil)
	case kmstypes.KeyStatePendingImport:
		return keyUnavailable(s, keyARN, "pending import", nil)
	case "":
		if m.Enabled {
			return nil
		}
		return keyDisabled(s, keyARN, nil)
	default:
		return keyUnavailable(s, keyARN, string(m.KeyState), nil)
	}
}

// AddDeletionDate completes a key-pending-deletion error that came from an
// SSM call, whose wrapped KMS message carries no date, with one DescribeKey
// so that the user sees when the key goes. Any other error, or a failed
// DescribeKey, is returned unchanged.
func AddDeletionDate(ctx context.Context, api KeyDescriber, err error, s Subject) error {
	var e *Error
	if api == nil || !errors.As(err, &e) || e.Kind != KeyPendingDeletion || !e.DeletionDate.IsZero() {
		return err
	}
	ref := e.KeyARN
	if ref == "" {
		ref = s.Key
	}
	if ref == "" {
		return err
	}
	out, derr := api.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(ref)})
	if derr != nil || out.KeyMetadata == nil || out.KeyMetadata.DeletionDate == nil {
		return err
	}
	keyARN := e.KeyARN
	if keyARN == "" {
		keyARN = aws.ToString(out.KeyMetadata.Arn)
	}
	return keyPendingDeletion(s, keyARN, *out.KeyMetadata.DeletionDate, e.Err)
}
