// Package kmsemu is the KMS service of the local endpoint: keys and aliases
// per Region, real authenticated encryption under per-key material that is
// sealed at rest, rotation, multi-Region replicas, and AWS's error codes and
// messages. Handlers serves the AWS JSON 1.1 wire operations
// ("TrentService.*"); Encrypt, GenerateDataKey, Decrypt and ResolveKey are
// the Go-level calls the SSM service makes on a caller's behalf.
package kmsemu

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/ssmstate/ssmstate/emulator/internal/awsapi"
	"github.com/ssmstate/ssmstate/emulator/internal/persist"
)

// Buckets of the persist.DB that hold KMS state. Keys of both are
// "<region>/<key id>" and "<region>/<alias name>".
const (
	keysBucket    = "kms-keys"
	aliasesBucket = "kms-aliases"
)

// SSMAlias is the AWS managed key SSM uses when a SecureString names no key.
const SSMAlias = "alias/aws/ssm"

// ssmKeyDescription is the description AWS gives the AWS managed key of
// Parameter Store (as shown by DescribeKey on alias/aws/ssm in AWS accounts).
const ssmKeyDescription = "Default key that protects my parameters when no other key is defined"

// maxOnDemandRotations is the AWS quota of RotateKeyOnDemand calls per key
// (AWS KMS developer guide, "Rotating keys on demand": up to 25 times).
const maxOnDemandRotations = 25

// Key states used here (KMS API model, KeyState enum).
const (
	stateEnabled         = "Enabled"
	stateDisabled        = "Disabled"
	statePendingDeletion = "PendingDeletion"
)

// Key specs and usages (KMS API model).
const (
	specSymmetric = "SYMMETRIC_DEFAULT"
	usageEncrypt  = "ENCRYPT_DECRYPT"
	usageSign     = "SIGN_VERIFY"
	algSymmetric  = "SYMMETRIC_DEFAULT"
)

// Service is the KMS service. Its methods are safe for concurrent use.
type Service struct {
	db        persist.DB
	authz     awsapi.Authorizer
	audit     awsapi.Auditor
	partition string

	mu      sync.Mutex
	keys    map[string]*key   // by region+"/"+key id
	aliases map[string]*alias // by region+"/"+alias name
}

// material is one version of a key's material. Sealed is what is stored;
// plain lives only in memory.
type material struct {
	ID           string    `json:"id"` // 64 hex digits, as AWS's KeyMaterialId
	Sealed       []byte    `json:"sealed"`
	Created      time.Time `json:"created"`
	RotationType string    `json:"rotationType,omitempty"` // "" for the original, AUTOMATIC or ON_DEMAND
	plain        []byte
}

// key is a KMS key as persisted (JSON) in keysBucket.
type key struct {
	Region         string     `json:"region"`
	Account        string     `json:"account"`
	ID             string     `json:"id"`
	ARN            string     `json:"arn"`
	Created        time.Time  `json:"created"`
	Description    string     `json:"description"`
	Usage          string     `json:"usage"`
	Spec           string     `json:"spec"`
	State          string     `json:"state"`
	DeletionDate   *time.Time `json:"deletionDate,omitempty"`
	PendingWindow  int        `json:"pendingWindow,omitempty"`
	Manager        string     `json:"manager"` // CUSTOMER or AWS
	MultiRegion    bool       `json:"multiRegion"`
	PrimaryRegion  string     `json:"primaryRegion,omitempty"`
	Policy         string     `json:"policy"`
	Tags           []tag      `json:"tags,omitempty"`
	RotationOn     bool       `json:"rotationOn"`
	RotationPeriod int        `json:"rotationPeriod,omitempty"`
	NextRotation   *time.Time `json:"nextRotation,omitempty"`
	OnDemandCount  int        `json:"onDemandCount,omitempty"`
	Materials      []material `json:"materials,omitempty"` // symmetric keys; last is current
	SealedPrivate  []byte     `json:"sealedPrivate,omitempty"`
	private        *rsa.PrivateKey
}

type tag struct {
	TagKey   string `json:"TagKey"`
	TagValue string `json:"TagValue"`
}

// alias is an alias as persisted (JSON) in aliasesBucket.
type alias struct {
	Region  string    `json:"region"`
	Name    string    `json:"name"`
	KeyID   string    `json:"keyId"`
	Created time.Time `json:"created"`
	Updated time.Time `json:"updated"`
}

// New returns the KMS service over db, loading the keys and aliases it holds.
// authz decides every call and audit records it; partition is "aws" unless
// configured otherwise.
func New(db persist.DB, authz awsapi.Authorizer, audit awsapi.Auditor, partition string) (*Service, error) {
	if partition == "" {
		partition = "aws"
	}
	s := &Service{db: db, authz: authz, audit: audit, partition: partition,
		keys: map[string]*key{}, aliases: map[string]*alias{}}
	err := db.View(func(tx persist.Tx) error {
		if err := tx.ForEach(keysBucket, func(id string, v []byte) error {
			k := new(key)
			if err := json.Unmarshal(v, k); err != nil {
				return fmt.Errorf("decode KMS key %q: %w", id, err)
			}
			if err := s.unsealKey(k); err != nil {
				return fmt.Errorf("unseal KMS key %q (is master.key the one this data directory was created with?): %w", id, err)
			}
			s.keys[id] = k
			return nil
		}); err != nil {
			return err
		}
		return tx.ForEach(aliasesBucket, func(id string, v []byte) error {
			a := new(alias)
			if err := json.Unmarshal(v, a); err != nil {
				return fmt.Errorf("decode KMS alias %q: %w", id, err)
			}
			s.aliases[id] = a
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("load KMS state: %w", err)
	}
	return s, nil
}

func (s *Service) unsealKey(k *key) error {
	for i := range k.Materials {
		m := &k.Materials[i]
		p, err := s.db.Unseal(m.Sealed, materialAAD(k.ID, m.ID))
		if err != nil {
			return err
		}
		m.plain = p
	}
	if len(k.SealedPrivate) > 0 {
		der, err := s.db.Unseal(k.SealedPrivate, materialAAD(k.ID, "private"))
		if err != nil {
			return err
		}
		pk, err := x509.ParsePKCS8PrivateKey(der)
		if err != nil {
			return err
		}
		rk, ok := pk.(*rsa.PrivateKey)
		if !ok {
			return fmt.Errorf("private key is %T, want RSA", pk)
		}
		k.private = rk
	}
	return nil
}

// materialAAD binds sealed material to its key and version, so sealed bytes
// cannot be moved from one key record to another.
func materialAAD(keyID, materialID string) []byte {
	return []byte("kms-material\x00" + keyID + "\x00" + materialID)
}

// newMaterial makes 32 random bytes of key material, sealed for storage.
func (s *Service) newMaterial(keyID, rotationType string, now time.Time) (material, error) {
	plain := make([]byte, 32)
	if _, err := rand.Read(plain); err != nil {
		return material{}, err
	}
	return s.sealMaterial(keyID, material{ID: randomHex(32), Created: now, RotationType: rotationType, plain: plain})
}

func (s *Service) sealMaterial(keyID string, m material) (material, error) {
	sealed, err := s.db.Seal(m.plain, materialAAD(keyID, m.ID))
	if err != nil {
		return material{}, fmt.Errorf("seal key material: %w", err)
	}
	m.Sealed = sealed
	return m, nil
}

// putKeys writes keys in one transaction and, only when that succeeds,
// publishes them in memory. Callers hold s.mu.
func (s *Service) putKeys(ks ...*key) error {
	return s.commit(ks, nil, nil)
}

// commit writes keys and aliases and deletes aliases (by map id) atomically.
// Callers hold s.mu.
func (s *Service) commit(ks []*key, as []*alias, deleteAliases []string) error {
	err := s.db.Update(func(tx persist.Tx) error {
		for _, k := range ks {
			b, err := json.Marshal(k)
			if err != nil {
				return err
			}
			if err := tx.Put(keysBucket, k.Region+"/"+k.ID, b); err != nil {
				return err
			}
		}
		for _, a := range as {
			b, err := json.Marshal(a)
			if err != nil {
				return err
			}
			if err := tx.Put(aliasesBucket, a.Region+"/"+a.Name, b); err != nil {
				return err
			}
		}
		for _, id := range deleteAliases {
			if err := tx.Delete(aliasesBucket, id); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("persist KMS state: %w", err)
	}
	for _, k := range ks {
		s.keys[k.Region+"/"+k.ID] = k
	}
	for _, a := range as {
		s.aliases[a.Region+"/"+a.Name] = a
	}
	for _, id := range deleteAliases {
		delete(s.aliases, id)
	}
	return nil
}

// clone copies k so that a failed write leaves the published key unchanged.
func (k *key) clone() *key {
	c := *k
	c.Materials = append([]material(nil), k.Materials...)
	c.Tags = append([]tag(nil), k.Tags...)
	return &c
}

func (k *key) current() *material {
	if len(k.Materials) == 0 {
		return nil
	}
	return &k.Materials[len(k.Materials)-1]
}

func (k *key) materialByID(id string) *material {
	for i := range k.Materials {
		if k.Materials[i].ID == id {
			return &k.Materials[i]
		}
	}
	return nil
}

func (k *key) symmetric() bool { return k.Spec == specSymmetric }

// deleted says whether a scheduled deletion has come due: AWS deletes the key
// at DeletionDate. The record stays on disk; the key is gone for callers.
func (k *key) deleted(now time.Time) bool {
	return k.State == statePendingDeletion && k.DeletionDate != nil && !now.Before(*k.DeletionDate)
}

func (s *Service) keyARN(region, account, id string) string {
	return "arn:" + s.partition + ":kms:" + region + ":" + account + ":key/" + id
}

func (s *Service) aliasARN(region, account, name string) string {
	return "arn:" + s.partition + ":kms:" + region + ":" + account + ":" + name
}

// Key id forms KMS accepts: a UUID, or "mrk-" and 32 hex digits for
// multi-Region keys (localstack models.py PATTERN_UUID / MULTI_REGION_PATTERN,
// matching the recorded "Invalid keyId" answers of AWS).
var (
	uuidPattern = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)
	mrkPattern  = regexp.MustCompile(`^mrk-[0-9a-fA-F]{32}$`)
	// aliasPattern is AliasNameType's pattern in the KMS API model.
	aliasPattern = regexp.MustCompile(`^[a-zA-Z0-9:/_-]+$`)
)

func newKeyID(multiRegion bool) string {
	if multiRegion {
		return "mrk-" + randomHex(16)
	}
	var b [16]byte
	rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// resolve finds the key keyRef names in r.Region: a key id, key ARN, alias
// name or alias ARN. alias/aws/ssm is created on first use, as AWS creates
// AWS managed keys. Callers hold s.mu. Errors are AWS's NotFoundException
// forms; key state is not checked here.
func (s *Service) resolve(r *awsapi.Request, keyRef string) (*key, error) {
	region, account := r.Region, r.Account
	if keyRef == "" {
		// Source: KMS API model, KeyIdType has min length 1.
		return nil, awsapi.Errorf("ValidationException", "1 validation error detected: Value at 'keyId' failed to satisfy constraint: Member must have length greater than or equal to 1")
	}
	var aliasName, keyID string
	switch {
	case strings.HasPrefix(keyRef, "arn:"):
		parts := strings.SplitN(keyRef, ":", 6)
		if len(parts) != 6 || parts[2] != "kms" {
			// Source: localstack provider.py _get_key_id_from_any_id; AWS
			// answers InvalidArnException for ARNs it cannot parse.
			return nil, awsapi.Errorf("InvalidArnException", "Invalid arn %s", keyRef)
		}
		if parts[3] != region {
			// Source: aws-recordings/localstack kms.snapshot.json,
			// test_get_key_in_different_region "describe-key-diff-region-with-arn".
			return nil, awsapi.Errorf("NotFoundException", "Invalid arn %s", parts[3])
		}
		switch res := parts[5]; {
		case strings.HasPrefix(res, "key/"):
			keyID = strings.TrimPrefix(res, "key/")
		case strings.HasPrefix(res, "alias/"):
			aliasName = res
		default:
			return nil, awsapi.Errorf("InvalidArnException", "Invalid arn %s", keyRef)
		}
	case strings.HasPrefix(keyRef, "alias/"):
		aliasName = keyRef
	default:
		keyID = keyRef
	}
	if aliasName != "" {
		a := s.aliases[region+"/"+aliasName]
		if a == nil && aliasName == SSMAlias {
			k, err := s.createSSMKey(r)
			if err != nil {
				return nil, err
			}
			return k, nil
		}
		if a == nil {
			// Source: real AWS via SSM (cloudposse/docs#152): "Alias
			// arn:aws:kms:us-west-2:…:alias/parameter_store_key is not found."
			// — the alias ARN, no quotes; moto kms/responses.py agrees.
			return nil, awsapi.Errorf("NotFoundException", "Alias %s is not found.", s.aliasARN(region, account, aliasName))
		}
		keyID = a.KeyID
	}
	if !uuidPattern.MatchString(keyID) && !mrkPattern.MatchString(keyID) {
		// Source: kms.snapshot.json test_get_key_invalid_uuid.
		return nil, awsapi.Errorf("NotFoundException", "Invalid keyId '%s'", keyID)
	}
	k := s.keys[region+"/"+keyID]
	if k == nil || k.deleted(r.Time) {
		// Source: kms.snapshot.json test_get_key_does_not_exist and
		// test_get_key_in_different_region (the ARN names the caller's Region).
		return nil, awsapi.Errorf("NotFoundException", "Key '%s' does not exist", s.keyARN(region, account, keyID))
	}
	return s.autoRotate(k, r.Time)
}

// autoRotate performs an automatic rotation that has come due, when the key
// is next used: new material, dated NextRotationDate, shared with the
// replicas of a multi-Region primary. Callers hold s.mu.
func (s *Service) autoRotate(k *key, now time.Time) (*key, error) {
	if !k.RotationOn || k.NextRotation == nil || now.Before(*k.NextRotation) || !k.symmetric() ||
		k.State != stateEnabled || (k.MultiRegion && k.Region != k.PrimaryRegion) {
		return k, nil
	}
	m, err := s.newMaterial(k.ID, "AUTOMATIC", *k.NextRotation)
	if err != nil {
		return nil, err
	}
	period := k.RotationPeriod
	if period <= 0 {
		period = 365
	}
	next := *k.NextRotation
	for !next.After(now) {
		next = next.AddDate(0, 0, period)
	}
	var changed []*key
	for _, o := range append([]*key{k}, s.replicasOfPrimary(k)...) {
		nk := o.clone()
		nk.Materials = append(nk.Materials, m)
		if o == k {
			nk.NextRotation = &next
		}
		changed = append(changed, nk)
	}
	if err := s.putKeys(changed...); err != nil {
		return nil, err
	}
	return changed[0], nil
}

// usable checks that k may perform a cryptographic operation now.
func usable(k *key) error {
	switch k.State {
	case stateEnabled:
		return nil
	case stateDisabled:
		// Source: kms.snapshot.json test_rotate_key_on_demand_raises_error_given_key_is_disabled.
		return awsapi.Errorf("DisabledException", "%s is disabled.", k.ARN)
	case statePendingDeletion:
		// Source: localstack provider.py _get_kms_key ("… is pending deletion."),
		// the same "<ARN> is <state>." form as the recorded "is pending import.".
		return awsapi.Errorf("KMSInvalidStateException", "%s is pending deletion.", k.ARN)
	default:
		return awsapi.Errorf("KMSInvalidStateException", "%s is %s.", k.ARN, strings.ToLower(k.State))
	}
}

// notPendingDeletion is the state rule of management operations (EnableKey,
// DisableKey, rotation, policy, alias targets): anything but PendingDeletion.
func notPendingDeletion(k *key) error {
	if k.State == statePendingDeletion {
		return usable(k)
	}
	return nil
}

// createSSMKey creates the AWS managed key of Parameter Store and its alias
// alias/aws/ssm in r.Region. Callers hold s.mu.
func (s *Service) createSSMKey(r *awsapi.Request) (*key, error) {
	now := r.Time
	id := newKeyID(false)
	k := &key{
		Region: r.Region, Account: r.Account, ID: id, ARN: s.keyARN(r.Region, r.Account, id),
		Created: now, Description: ssmKeyDescription, Usage: usageEncrypt, Spec: specSymmetric,
		State: stateEnabled, Manager: "AWS", Policy: ssmManagedKeyPolicy(s.partition, r.Account, r.Region),
		// AWS managed keys rotate every year and this cannot be turned off
		// (AWS KMS developer guide, "AWS managed keys").
		RotationOn: true, RotationPeriod: 365,
	}
	next := now.AddDate(0, 0, 365)
	k.NextRotation = &next
	m, err := s.newMaterial(id, "", now)
	if err != nil {
		return nil, err
	}
	k.Materials = []material{m}
	a := &alias{Region: r.Region, Name: SSMAlias, KeyID: id, Created: now, Updated: now}
	if err := s.commit([]*key{k}, []*alias{a}, nil); err != nil {
		return nil, err
	}
	return k, nil
}

// defaultKeyPolicy is the key policy KMS gives a key created without one
// (AWS KMS developer guide, "Default key policy"; the recorded ReplicaPolicy
// in kms.snapshot.json test_replicate_key has the same statement).
func defaultKeyPolicy(partition, account string) string {
	return `{
  "Version" : "2012-10-17",
  "Id" : "key-default-1",
  "Statement" : [ {
    "Sid" : "Enable IAM User Permissions",
    "Effect" : "Allow",
    "Principal" : {
      "AWS" : "arn:` + partition + `:iam::` + account + `:root"
    },
    "Action" : "kms:*",
    "Resource" : "*"
  } ]
}`
}

// ssmManagedKeyPolicy is the policy of the AWS managed key aws/ssm: any
// principal of the account may use it through Parameter Store, and the
// account may read its metadata (the shape AWS gives its "auto-<service>"
// managed keys; AWS KMS developer guide, "AWS managed keys").
func ssmManagedKeyPolicy(partition, account, region string) string {
	return `{
  "Version" : "2012-10-17",
  "Id" : "auto-ssm-2",
  "Statement" : [ {
    "Sid" : "Allow access through Systems Manager for all principals in the account that are authorized to use Systems Manager",
    "Effect" : "Allow",
    "Principal" : {
      "AWS" : "*"
    },
    "Action" : [ "kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:CreateGrant", "kms:DescribeKey" ],
    "Resource" : "*",
    "Condition" : {
      "StringEquals" : {
        "kms:CallerAccount" : "` + account + `",
        "kms:ViaService" : "ssm.` + region + `.amazonaws.com"
      }
    }
  }, {
    "Sid" : "Allow direct access to key metadata to the account",
    "Effect" : "Allow",
    "Principal" : {
      "AWS" : "arn:` + partition + `:iam::` + account + `:root"
    },
    "Action" : [ "kms:Describe*", "kms:Get*", "kms:List*", "kms:RevokeGrant" ],
    "Resource" : "*"
  } ]
}`
}

// replicas returns the keys with k's id in other Regions (multi-Region keys),
// sorted by Region. Callers hold s.mu.
func (s *Service) replicas(k *key) []*key {
	var out []*key
	for _, o := range s.keys {
		if o.ID == k.ID && o.Account == k.Account && o.Region != k.PrimaryRegion {
			out = append(out, o)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Region < out[j].Region })
	return out
}

// generateRSA makes an RSA key for an asymmetric KMS key spec.
func generateRSA(spec string) (*rsa.PrivateKey, error) {
	bits := map[string]int{"RSA_2048": 2048, "RSA_3072": 3072, "RSA_4096": 4096}[spec]
	return rsa.GenerateKey(rand.Reader, bits)
}
