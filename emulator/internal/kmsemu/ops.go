package kmsemu

import (
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/ssmstate/ssmstate/emulator/internal/awsapi"
)

// allKeySpecs is the KeySpec enum as AWS lists it in validation errors.
// Source: kms.snapshot.json test_hmac_create_key_invalid_operations.
const allKeySpecs = "RSA_2048, ECC_NIST_P384, ECC_NIST_P256, ECC_NIST_P521, HMAC_384, RSA_3072, ECC_SECG_P256K1, RSA_4096, SYMMETRIC_DEFAULT, HMAC_256, HMAC_224, HMAC_512"

// allKeyUsages: same source.
const allKeyUsages = "ENCRYPT_DECRYPT, SIGN_VERIFY, GENERATE_VERIFY_MAC"

type createKeyIn struct {
	Policy                         *string
	Description                    string
	KeyUsage                       string
	CustomerMasterKeySpec          string
	KeySpec                        string
	Origin                         string
	Tags                           []tag
	MultiRegion                    *bool
	BypassPolicyLockoutSafetyCheck bool
}

func validateTags(tags []tag) error {
	// Sources: kms.snapshot.json test_create_key_with_too_many_tags_raises_error,
	// test_tag_key_with_duplicate_tag_keys_raises_error,
	// test_tag_existing_key_with_invalid_tag_key, test_key_with_long_tag_value_raises_error.
	if len(tags) > 50 {
		return awsapi.Errorf("TagException", "Too many tags")
	}
	seen := map[string]bool{}
	for i, t := range tags {
		if len(t.TagKey) > 128 {
			return awsapi.Errorf("ValidationException", "1 validation error detected: Value '%s' at 'tags.%d.member.tagKey' failed to satisfy constraint: Member must have length less than or equal to 128", t.TagKey, i+1)
		}
		if len(t.TagValue) > 256 {
			return awsapi.Errorf("ValidationException", "1 validation error detected: Value '%s' at 'tags.%d.member.tagValue' failed to satisfy constraint: Member must have length less than or equal to 256", t.TagValue, i+1)
		}
		if strings.HasPrefix(strings.ToLower(t.TagKey), "aws:") {
			return awsapi.Errorf("TagException", "Tags beginning with aws: are reserved")
		}
		if seen[t.TagKey] {
			return awsapi.Errorf("TagException", "Duplicate tag keys")
		}
		seen[t.TagKey] = true
	}
	return nil
}

func validatePolicy(p string) error {
	if !json.Valid([]byte(p)) {
		// AWS rejects unparsable policies with MalformedPolicyDocumentException
		// (KMS API model, PutKeyPolicy/CreateKey errors); message ours.
		return awsapi.Errorf("MalformedPolicyDocumentException", "The key policy is not valid JSON: fix its syntax.")
	}
	return nil
}

func (s *Service) createKey(c *call, body []byte) (any, error) {
	var in createKeyIn
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	spec := in.KeySpec
	if spec == "" {
		spec = in.CustomerMasterKeySpec
	}
	if spec == "" {
		spec = specSymmetric
	}
	if !contains(strings.Split(allKeySpecs, ", "), spec) {
		return nil, enumError("keySpec", spec, allKeySpecs)
	}
	if in.KeyUsage != "" && !contains(strings.Split(allKeyUsages+", KEY_AGREEMENT", ", "), in.KeyUsage) {
		return nil, enumError("keyUsage", in.KeyUsage, allKeyUsages)
	}
	usage := in.KeyUsage
	if usage == "" {
		if spec != specSymmetric {
			// Source: kms.snapshot.json test_hmac_create_key_invalid_operations.
			return nil, awsapi.Errorf("ValidationException", "You must specify a KeyUsage value for all KMS keys except for symmetric encryption keys.")
		}
		usage = usageEncrypt
	}
	rsaSpec := strings.HasPrefix(spec, "RSA_")
	if (spec == specSymmetric && usage != usageEncrypt) || (rsaSpec && usage != usageEncrypt && usage != usageSign) {
		// Source: kms.snapshot.json test_derive_shared_secret
		// ("KeyUsage KEY_AGREEMENT is not compatible with KeySpec RSA_2048").
		return nil, awsapi.Errorf("ValidationException", "KeyUsage %s is not compatible with KeySpec %s", usage, spec)
	}
	if spec != specSymmetric && !rsaSpec {
		return nil, awsapi.Errorf("UnsupportedOperationException", "KeySpec %s is not supported by this local endpoint: use SYMMETRIC_DEFAULT or RSA_2048, RSA_3072, RSA_4096", spec)
	}
	if in.Origin != "" && in.Origin != "AWS_KMS" {
		return nil, awsapi.Errorf("UnsupportedOperationException", "Origin %s is not supported by this local endpoint: use AWS_KMS", in.Origin)
	}
	if len(in.Description) > 8192 {
		return nil, awsapi.Errorf("ValidationException", "1 validation error detected: Value at 'description' failed to satisfy constraint: Member must have length less than or equal to 8192")
	}
	if err := validateTags(in.Tags); err != nil {
		return nil, err
	}
	r := c.r
	policy := defaultKeyPolicy(s.partition, r.Account)
	if in.Policy != nil {
		if err := validatePolicy(*in.Policy); err != nil {
			return nil, err
		}
		policy = *in.Policy
	}
	if err := s.authorize(c, "kms:CreateKey", nil, nil); err != nil {
		return nil, err
	}
	multi := in.MultiRegion != nil && *in.MultiRegion
	id := newKeyID(multi)
	k := &key{
		Region: r.Region, Account: r.Account, ID: id, ARN: s.keyARN(r.Region, r.Account, id),
		Created: r.Time, Description: in.Description, Usage: usage, Spec: spec, State: stateEnabled,
		Manager: "CUSTOMER", MultiRegion: multi, Policy: policy, Tags: in.Tags,
	}
	if multi {
		k.PrimaryRegion = r.Region
	}
	c.keyARN = k.ARN
	if rsaSpec {
		pk, err := generateRSA(spec)
		if err != nil {
			return nil, err
		}
		der, err := x509.MarshalPKCS8PrivateKey(pk)
		if err != nil {
			return nil, err
		}
		if k.SealedPrivate, err = s.db.Seal(der, materialAAD(id, "private")); err != nil {
			return nil, fmt.Errorf("seal private key: %w", err)
		}
		k.private = pk
	} else {
		m, err := s.newMaterial(id, "", r.Time)
		if err != nil {
			return nil, err
		}
		k.Materials = []material{m}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.putKeys(k); err != nil {
		return nil, err
	}
	return map[string]any{"KeyMetadata": s.metadata(k)}, nil
}

type keyIDIn struct {
	KeyId *string
}

// lookup decodes a request naming one key, resolves it and authorizes
// action on it. Callers hold s.mu.
func (s *Service) lookup(c *call, body []byte, in any, keyID func() *string, action string) (*key, error) {
	if err := decode(body, in); err != nil {
		return nil, err
	}
	ref := keyID()
	if err := required("keyId", ref != nil); err != nil {
		return nil, err
	}
	k, err := s.resolve(c.r, *ref)
	if err != nil {
		return nil, err
	}
	c.keyARN = k.ARN
	if err := s.authorize(c, action, k, nil); err != nil {
		return nil, err
	}
	return k, nil
}

func (s *Service) describeKey(c *call, body []byte) (any, error) {
	var in keyIDIn
	s.mu.Lock()
	defer s.mu.Unlock()
	k, err := s.lookup(c, body, &in, func() *string { return in.KeyId }, "kms:DescribeKey")
	if err != nil {
		return nil, err
	}
	return map[string]any{"KeyMetadata": s.metadata(k)}, nil
}

type listIn struct {
	KeyId  *string
	Limit  *int
	Marker string
}

func (s *Service) listKeys(c *call, body []byte) (any, error) {
	var in listIn
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	if err := s.authorize(c, "kms:ListKeys", nil, nil); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var ks []*key
	for _, k := range s.keys {
		if k.Region == c.r.Region && k.Account == c.r.Account && !k.deleted(c.r.Time) {
			ks = append(ks, k)
		}
	}
	sort.Slice(ks, func(i, j int) bool { return ks[i].ID < ks[j].ID })
	pg, next, err := page(ks, func(k *key) string { return k.ID }, in.Marker, in.Limit)
	if err != nil {
		return nil, err
	}
	type entry struct{ KeyId, KeyArn string }
	out := map[string]any{"Keys": []entry{}, "Truncated": next != ""}
	entries := []entry{}
	for _, k := range pg {
		entries = append(entries, entry{k.ID, k.ARN})
	}
	out["Keys"] = entries
	if next != "" {
		out["NextMarker"] = next
	}
	return out, nil
}

type aliasIn struct {
	AliasName   *string
	TargetKeyId *string
}

// checkAliasName applies AWS's rules for alias names a caller may manage.
func checkAliasName(name string) error {
	if !strings.HasPrefix(name, "alias/") {
		// Source: kms.snapshot.json test_create_alias.
		return awsapi.Errorf("ValidationException", `Alias must start with the prefix "alias/". Please see https://docs.aws.amazon.com/kms/latest/developerguide/kms-alias.html`)
	}
	if strings.HasPrefix(name, "alias/aws/") {
		// alias/aws/ is reserved for AWS managed keys (KMS API reference,
		// CreateAlias). Code and empty message: moto 5.2.1 kms/responses.py _set_alias.
		return awsapi.Code("NotAuthorizedException")
	}
	if len(name) > 256 || !aliasPattern.MatchString(name) {
		// Source: KMS API model AliasNameType pattern; message form of moto
		// kms/responses.py _set_alias.
		return awsapi.Errorf("ValidationException", "1 validation error detected: Value '%s' at 'aliasName' failed to satisfy constraint: Member must satisfy regular expression pattern: ^[a-zA-Z0-9:/_-]+$", name)
	}
	return nil
}

// aliasTarget resolves an alias's TargetKeyId, which must name a key, not
// an alias. Callers hold s.mu.
func (s *Service) aliasTarget(c *call, ref string, action string) (*key, error) {
	if strings.HasPrefix(ref, "alias/") || strings.Contains(ref, ":alias/") {
		// Source: moto kms/responses.py _set_alias.
		return nil, awsapi.Errorf("ValidationException", "Aliases must refer to keys. Not aliases")
	}
	k, err := s.resolve(c.r, ref)
	if err != nil {
		return nil, err
	}
	c.keyARN = k.ARN
	if err := s.authorize(c, action, k, nil); err != nil {
		return nil, err
	}
	if err := notPendingDeletion(k); err != nil {
		return nil, err
	}
	return k, nil
}

func (s *Service) createAlias(c *call, body []byte) (any, error) {
	var in aliasIn
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	if err := required("aliasName", in.AliasName != nil); err != nil {
		return nil, err
	}
	if err := required("targetKeyId", in.TargetKeyId != nil); err != nil {
		return nil, err
	}
	if err := checkAliasName(*in.AliasName); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	k, err := s.aliasTarget(c, *in.TargetKeyId, "kms:CreateAlias")
	if err != nil {
		return nil, err
	}
	r := c.r
	if s.aliases[r.Region+"/"+*in.AliasName] != nil {
		// Source: moto kms/responses.py _set_alias.
		return nil, awsapi.Errorf("AlreadyExistsException", "An alias with the name %s already exists", s.aliasARN(r.Region, r.Account, *in.AliasName))
	}
	a := &alias{Region: r.Region, Name: *in.AliasName, KeyID: k.ID, Created: r.Time, Updated: r.Time}
	return nil, s.commit(nil, []*alias{a}, nil)
}

// existingAlias returns the alias name names in r.Region. Callers hold s.mu.
func (s *Service) existingAlias(r *awsapi.Request, name string) (*alias, error) {
	a := s.aliases[r.Region+"/"+name]
	if a == nil {
		return nil, awsapi.Errorf("NotFoundException", "Alias %s is not found.", s.aliasARN(r.Region, r.Account, name))
	}
	return a, nil
}

func (s *Service) updateAlias(c *call, body []byte) (any, error) {
	var in aliasIn
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	if err := required("aliasName", in.AliasName != nil); err != nil {
		return nil, err
	}
	if err := required("targetKeyId", in.TargetKeyId != nil); err != nil {
		return nil, err
	}
	if err := checkAliasName(*in.AliasName); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	a, err := s.existingAlias(c.r, *in.AliasName)
	if err != nil {
		return nil, err
	}
	k, err := s.aliasTarget(c, *in.TargetKeyId, "kms:UpdateAlias")
	if err != nil {
		return nil, err
	}
	if old := s.keys[c.r.Region+"/"+a.KeyID]; old != nil && (old.symmetric() != k.symmetric() || old.Usage != k.Usage) {
		// The new key must have the same type and usage (KMS API reference,
		// UpdateAlias); message ours.
		return nil, awsapi.Errorf("ValidationException", "Alias %s points to a %s key with usage %s; the new target must have the same key type and usage", *in.AliasName, old.Spec, old.Usage)
	}
	na := *a
	na.KeyID, na.Updated = k.ID, c.r.Time
	return nil, s.commit(nil, []*alias{&na}, nil)
}

func (s *Service) deleteAlias(c *call, body []byte) (any, error) {
	var in aliasIn
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	if err := required("aliasName", in.AliasName != nil); err != nil {
		return nil, err
	}
	if err := checkAliasName(*in.AliasName); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	a, err := s.existingAlias(c.r, *in.AliasName)
	if err != nil {
		return nil, err
	}
	if k := s.keys[c.r.Region+"/"+a.KeyID]; k != nil {
		c.keyARN = k.ARN
		if err := s.authorize(c, "kms:DeleteAlias", k, nil); err != nil {
			return nil, err
		}
	}
	return nil, s.commit(nil, nil, []string{c.r.Region + "/" + a.Name})
}

func (s *Service) listAliases(c *call, body []byte) (any, error) {
	var in listIn
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	filter := ""
	if in.KeyId != nil {
		k, err := s.resolve(c.r, *in.KeyId)
		if err != nil {
			return nil, err
		}
		filter, c.keyARN = k.ID, k.ARN
	}
	if err := s.authorize(c, "kms:ListAliases", nil, nil); err != nil {
		return nil, err
	}
	var as []*alias
	for _, a := range s.aliases {
		if a.Region == c.r.Region && (filter == "" || a.KeyID == filter) {
			as = append(as, a)
		}
	}
	sort.Slice(as, func(i, j int) bool { return as[i].Name < as[j].Name })
	pg, next, err := page(as, func(a *alias) string { return a.Name }, in.Marker, in.Limit)
	if err != nil {
		return nil, err
	}
	type entry struct {
		AliasName, AliasArn, TargetKeyId string
		CreationDate, LastUpdatedDate    epoch
	}
	entries := []entry{}
	for _, a := range pg {
		entries = append(entries, entry{a.Name, s.aliasARN(a.Region, c.r.Account, a.Name), a.KeyID, epoch(a.Created), epoch(a.Updated)})
	}
	out := map[string]any{"Aliases": entries, "Truncated": next != ""}
	if next != "" {
		out["NextMarker"] = next
	}
	return out, nil
}

type encryptIn struct {
	KeyId               *string
	Plaintext           []byte
	EncryptionContext   map[string]string
	EncryptionAlgorithm string
	DryRun              bool
}

// checkPlaintext is the model's PlaintextType length 1–4096.
// Source: kms.snapshot.json test_plaintext_size_for_encrypt.
func checkPlaintext(p []byte) error {
	if p == nil {
		return required("plaintext", false)
	}
	if len(p) == 0 {
		return awsapi.Errorf("ValidationException", "1 validation error detected: Value at 'plaintext' failed to satisfy constraint: Member must have length greater than or equal to 1")
	}
	if len(p) > 4096 {
		return awsapi.Errorf("ValidationException", "1 validation error detected: Value at 'plaintext' failed to satisfy constraint: Member must have length less than or equal to 4096")
	}
	return nil
}

func (s *Service) encrypt(c *call, body []byte) (any, error) {
	var in encryptIn
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	c.encCtx = in.EncryptionContext
	if err := required("keyId", in.KeyId != nil); err != nil {
		return nil, err
	}
	if err := checkPlaintext(in.Plaintext); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	res, err := s.encryptLocked(c, "kms:Encrypt", "Encrypt", *in.KeyId, in.Plaintext, in.EncryptionContext, in.EncryptionAlgorithm, in.DryRun)
	if err != nil {
		return nil, err
	}
	return map[string]any{"CiphertextBlob": res.blob, "KeyId": res.key.ARN, "EncryptionAlgorithm": res.alg}, nil
}

type decryptIn struct {
	CiphertextBlob      []byte
	EncryptionContext   map[string]string
	KeyId               string
	EncryptionAlgorithm string
	DryRun              bool
}

func (s *Service) decrypt(c *call, body []byte) (any, error) {
	var in decryptIn
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	c.encCtx = in.EncryptionContext
	if err := required("ciphertextBlob", in.CiphertextBlob != nil); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	res, err := s.decryptLocked(c, "kms:Decrypt", "Decrypt", in.KeyId, in.CiphertextBlob, in.EncryptionContext, in.EncryptionAlgorithm, in.DryRun)
	if err != nil {
		return nil, err
	}
	out := map[string]any{"KeyId": res.key.ARN, "Plaintext": res.plaintext, "EncryptionAlgorithm": res.alg}
	if res.materialID != "" {
		out["KeyMaterialId"] = res.materialID
	}
	return out, nil
}

type dataKeyIn struct {
	KeyId             *string
	EncryptionContext map[string]string
	NumberOfBytes     *int
	KeySpec           string
	DryRun            bool
}

// dataKeySize validates KeySpec/NumberOfBytes. Messages: moto 5.2.1
// kms/responses.py generate_data_key; range form as kms.snapshot.json
// test_generate_random_invalid_number_of_bytes.
func dataKeySize(in dataKeyIn) (int, error) {
	if (in.KeySpec == "") == (in.NumberOfBytes == nil) {
		return 0, awsapi.Errorf("ValidationException", "Please specify either number of bytes or key spec.")
	}
	if in.NumberOfBytes != nil {
		return *in.NumberOfBytes, rangeError("numberOfBytes", *in.NumberOfBytes, 1, 1024)
	}
	switch in.KeySpec {
	case "AES_256":
		return 32, nil
	case "AES_128":
		return 16, nil
	}
	return 0, enumError("keySpec", in.KeySpec, "AES_256, AES_128")
}

func (s *Service) dataKey(c *call, body []byte, op string) (*encryptResult, []byte, error) {
	var in dataKeyIn
	if err := decode(body, &in); err != nil {
		return nil, nil, err
	}
	c.encCtx = in.EncryptionContext
	if err := required("keyId", in.KeyId != nil); err != nil {
		return nil, nil, err
	}
	n, err := dataKeySize(in)
	if err != nil {
		return nil, nil, err
	}
	dk := make([]byte, n)
	if _, err := rand.Read(dk); err != nil {
		return nil, nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	res, err := s.generateDataKeyLocked(c, "kms:"+op, op, *in.KeyId, dk, in.EncryptionContext, in.DryRun)
	if err != nil {
		return nil, nil, err
	}
	return res, dk, nil
}

func (s *Service) generateDataKey(c *call, body []byte) (any, error) {
	res, dk, err := s.dataKey(c, body, "GenerateDataKey")
	if err != nil {
		return nil, err
	}
	return map[string]any{"CiphertextBlob": res.blob, "Plaintext": dk, "KeyId": res.key.ARN, "KeyMaterialId": res.materialID}, nil
}

func (s *Service) generateDataKeyWithoutPlaintext(c *call, body []byte) (any, error) {
	res, _, err := s.dataKey(c, body, "GenerateDataKeyWithoutPlaintext")
	if err != nil {
		return nil, err
	}
	return map[string]any{"CiphertextBlob": res.blob, "KeyId": res.key.ARN, "KeyMaterialId": res.materialID}, nil
}

type reEncryptIn struct {
	CiphertextBlob                 []byte
	SourceEncryptionContext        map[string]string
	SourceKeyId                    string
	DestinationKeyId               *string
	DestinationEncryptionContext   map[string]string
	SourceEncryptionAlgorithm      string
	DestinationEncryptionAlgorithm string
	DryRun                         bool
}

func (s *Service) reEncrypt(c *call, body []byte) (any, error) {
	var in reEncryptIn
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	c.encCtx = in.DestinationEncryptionContext
	if err := required("ciphertextBlob", in.CiphertextBlob != nil); err != nil {
		return nil, err
	}
	if err := required("destinationKeyId", in.DestinationKeyId != nil); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	// ReEncrypt needs kms:ReEncryptFrom on the source key and kms:ReEncryptTo
	// on the destination key (AWS KMS developer guide, "ReEncrypt").
	src, err := s.decryptLocked(c, "kms:ReEncryptFrom", "ReEncrypt", in.SourceKeyId, in.CiphertextBlob, in.SourceEncryptionContext, in.SourceEncryptionAlgorithm, false)
	if err != nil {
		return nil, err
	}
	dst, err := s.encryptLocked(c, "kms:ReEncryptTo", "ReEncrypt", *in.DestinationKeyId, src.plaintext, in.DestinationEncryptionContext, in.DestinationEncryptionAlgorithm, in.DryRun)
	if err != nil {
		return nil, err
	}
	out := map[string]any{"CiphertextBlob": dst.blob, "SourceKeyId": src.key.ARN, "KeyId": dst.key.ARN,
		"SourceEncryptionAlgorithm": src.alg, "DestinationEncryptionAlgorithm": dst.alg}
	if src.materialID != "" {
		out["SourceKeyMaterialId"] = src.materialID
	}
	if dst.materialID != "" {
		out["DestinationKeyMaterialId"] = dst.materialID
	}
	return out, nil
}

// mutate runs a management operation on one key: look it up, authorize,
// apply change to a copy, and persist the copy. Callers do not hold s.mu.
func (s *Service) mutate(c *call, body []byte, in any, keyID func() *string, action string, change func(k *key) (any, error)) (any, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k, err := s.lookup(c, body, in, keyID, action)
	if err != nil {
		return nil, err
	}
	nk := k.clone()
	out, err := change(nk)
	if err != nil {
		return nil, err
	}
	if err := s.putKeys(nk); err != nil {
		return nil, err
	}
	return out, nil
}

func (s *Service) enableKey(c *call, body []byte) (any, error) {
	var in keyIDIn
	return s.mutate(c, body, &in, func() *string { return in.KeyId }, "kms:EnableKey", func(k *key) (any, error) {
		if err := notPendingDeletion(k); err != nil {
			return nil, err
		}
		k.State = stateEnabled
		return nil, nil
	})
}

func (s *Service) disableKey(c *call, body []byte) (any, error) {
	var in keyIDIn
	return s.mutate(c, body, &in, func() *string { return in.KeyId }, "kms:DisableKey", func(k *key) (any, error) {
		if err := notCustomerManaged(k); err != nil {
			return nil, err
		}
		if err := notPendingDeletion(k); err != nil {
			return nil, err
		}
		k.State = stateDisabled
		return nil, nil
	})
}

// notCustomerManaged refuses management of AWS managed keys.
// Source: KMS developer guide, "AWS managed keys" (you cannot manage them);
// AWS answers such calls with an access-denied or unsupported error — we use
// UnsupportedOperationException with a message naming the key.
func notCustomerManaged(k *key) error {
	if k.Manager == "AWS" {
		return awsapi.Errorf("UnsupportedOperationException", "%s is an AWS managed key, which cannot be changed.", k.ARN)
	}
	return nil
}

type scheduleIn struct {
	KeyId               *string
	PendingWindowInDays *int
}

func (s *Service) scheduleKeyDeletion(c *call, body []byte) (any, error) {
	var in scheduleIn
	return s.mutate(c, body, &in, func() *string { return in.KeyId }, "kms:ScheduleKeyDeletion", func(k *key) (any, error) {
		days := 30
		if in.PendingWindowInDays != nil {
			days = *in.PendingWindowInDays
		}
		// Range 7–30: KMS API model PendingWindowInDaysType.
		if err := rangeError("pendingWindowInDays", days, 7, 30); err != nil {
			return nil, err
		}
		if err := notCustomerManaged(k); err != nil {
			return nil, err
		}
		if err := notPendingDeletion(k); err != nil {
			return nil, err
		}
		when := c.r.Time.Add(time.Duration(days) * 24 * time.Hour)
		k.State, k.DeletionDate, k.PendingWindow = statePendingDeletion, &when, days
		return map[string]any{"KeyId": k.ARN, "DeletionDate": epoch(when), "KeyState": k.State, "PendingWindowInDays": days}, nil
	})
}

func (s *Service) cancelKeyDeletion(c *call, body []byte) (any, error) {
	var in keyIDIn
	return s.mutate(c, body, &in, func() *string { return in.KeyId }, "kms:CancelKeyDeletion", func(k *key) (any, error) {
		if k.State != statePendingDeletion {
			// Message form "<ARN> is <state>." as the recorded
			// KMSInvalidStateException answers (kms.snapshot.json); this exact
			// text is not recorded.
			return nil, awsapi.Errorf("KMSInvalidStateException", "%s is not pending deletion.", k.ARN)
		}
		// A cancelled key is Disabled, not Enabled (KMS API reference,
		// CancelKeyDeletion; localstack provider.py cancel_key_deletion).
		k.State, k.DeletionDate, k.PendingWindow = stateDisabled, nil, 0
		return map[string]any{"KeyId": k.ARN}, nil
	})
}

// rotatable checks that k's rotation may be managed: a symmetric customer
// key, enabled. Source of the empty UnsupportedOperationException:
// kms.snapshot.json test_rotate_key_on_demand_raises_error_given_non_symmetric_key.
func rotatable(k *key) error {
	if err := usable(k); err != nil {
		return err
	}
	if !k.symmetric() {
		return awsapi.Code("UnsupportedOperationException")
	}
	return nil
}

type rotationIn struct {
	KeyId                *string
	RotationPeriodInDays *int
}

func (s *Service) enableKeyRotation(c *call, body []byte) (any, error) {
	var in rotationIn
	return s.mutate(c, body, &in, func() *string { return in.KeyId }, "kms:EnableKeyRotation", func(k *key) (any, error) {
		days := 365
		if in.RotationPeriodInDays != nil {
			days = *in.RotationPeriodInDays
		}
		// Range 90–2560: KMS API model RotationPeriodInDaysType.
		if err := rangeError("rotationPeriodInDays", days, 90, 2560); err != nil {
			return nil, err
		}
		if err := rotatable(k); err != nil {
			return nil, err
		}
		if err := notCustomerManaged(k); err != nil {
			return nil, err
		}
		next := c.r.Time.AddDate(0, 0, days)
		k.RotationOn, k.RotationPeriod, k.NextRotation = true, days, &next
		return nil, nil
	})
}

func (s *Service) disableKeyRotation(c *call, body []byte) (any, error) {
	var in keyIDIn
	return s.mutate(c, body, &in, func() *string { return in.KeyId }, "kms:DisableKeyRotation", func(k *key) (any, error) {
		if err := rotatable(k); err != nil {
			return nil, err
		}
		if err := notCustomerManaged(k); err != nil {
			return nil, err
		}
		k.RotationOn, k.RotationPeriod, k.NextRotation = false, 0, nil
		return nil, nil
	})
}

func (s *Service) getKeyRotationStatus(c *call, body []byte) (any, error) {
	var in keyIDIn
	s.mu.Lock()
	defer s.mu.Unlock()
	k, err := s.lookup(c, body, &in, func() *string { return in.KeyId }, "kms:GetKeyRotationStatus")
	if err != nil {
		return nil, err
	}
	if err := notPendingDeletion(k); err != nil {
		return nil, err
	}
	if !k.symmetric() {
		return nil, awsapi.Code("UnsupportedOperationException")
	}
	// Shape: kms.snapshot.json test_key_enable_rotation_status (KeyId is the id).
	out := map[string]any{"KeyId": k.ID, "KeyRotationEnabled": k.RotationOn}
	if k.RotationOn {
		out["RotationPeriodInDays"] = k.RotationPeriod
		out["NextRotationDate"] = epochPtr(k.NextRotation)
	}
	return out, nil
}

func (s *Service) rotateKeyOnDemand(c *call, body []byte) (any, error) {
	var in keyIDIn
	s.mu.Lock()
	defer s.mu.Unlock()
	k, err := s.lookup(c, body, &in, func() *string { return in.KeyId }, "kms:RotateKeyOnDemand")
	if err != nil {
		return nil, err
	}
	if err := rotatable(k); err != nil {
		return nil, err
	}
	if k.MultiRegion && k.Region != k.PrimaryRegion {
		// Replicas rotate with their primary (KMS developer guide,
		// "Rotating multi-Region keys"); message as test_replicate_replica_key_should_fail.
		return nil, awsapi.Errorf("UnsupportedOperationException", "%s is not a multi-region primary key.", k.ARN)
	}
	if k.OnDemandCount >= maxOnDemandRotations {
		// Source: kms.snapshot.json test_key_rotations_limits.
		return nil, awsapi.Errorf("LimitExceededException", "The on-demand rotations limit has been reached for the given keyId. No more on-demand rotations can be performed for this key: %s", k.ARN)
	}
	m, err := s.newMaterial(k.ID, "ON_DEMAND", c.r.Time)
	if err != nil {
		return nil, err
	}
	// New material reaches every replica of a multi-Region key, so each
	// Region keeps decrypting the others' ciphertext.
	var changed []*key
	for _, o := range append([]*key{k}, s.replicasOfPrimary(k)...) {
		nk := o.clone()
		nk.Materials = append(nk.Materials, m)
		nk.OnDemandCount++
		changed = append(changed, nk)
	}
	if err := s.putKeys(changed...); err != nil {
		return nil, err
	}
	return map[string]any{"KeyId": k.ARN}, nil
}

// replicasOfPrimary returns the replicas of a multi-Region primary key.
func (s *Service) replicasOfPrimary(k *key) []*key {
	if !k.MultiRegion || k.Region != k.PrimaryRegion {
		return nil
	}
	return s.replicas(k)
}

type listRotationsIn struct {
	KeyId  *string
	Limit  *int
	Marker string
}

func (s *Service) listKeyRotations(c *call, body []byte) (any, error) {
	var in listRotationsIn
	s.mu.Lock()
	defer s.mu.Unlock()
	k, err := s.lookup(c, body, &in, func() *string { return in.KeyId }, "kms:ListKeyRotations")
	if err != nil {
		return nil, err
	}
	if err := notPendingDeletion(k); err != nil {
		return nil, err
	}
	if !k.symmetric() {
		return nil, awsapi.Code("UnsupportedOperationException")
	}
	type rotation struct {
		KeyId, KeyMaterialId, RotationType, KeyMaterialState string
		RotationDate                                         epoch
	}
	var all []rotation
	for i, m := range k.Materials {
		if m.RotationType == "" {
			continue // the original material is no rotation
		}
		state := "NON_CURRENT"
		if i == len(k.Materials)-1 {
			state = "CURRENT"
		}
		all = append(all, rotation{KeyId: k.ID, KeyMaterialId: m.ID, RotationType: m.RotationType, KeyMaterialState: state, RotationDate: epoch(m.Created)})
	}
	idx := map[string]int{}
	for i, rt := range all {
		idx[rt.KeyMaterialId] = i
	}
	pg, next, err := page(all, func(rt rotation) string { return fmt.Sprintf("%08d", idx[rt.KeyMaterialId]) }, in.Marker, in.Limit)
	if err != nil {
		return nil, err
	}
	if pg == nil {
		pg = []rotation{}
	}
	out := map[string]any{"Rotations": pg, "Truncated": next != ""}
	if next != "" {
		out["NextMarker"] = next
	}
	return out, nil
}

type replicateIn struct {
	KeyId         *string
	ReplicaRegion *string
	Policy        *string
	Description   string
	Tags          []tag
}

func (s *Service) replicateKey(c *call, body []byte) (any, error) {
	var in replicateIn
	s.mu.Lock()
	defer s.mu.Unlock()
	k, err := s.lookup(c, body, &in, func() *string { return in.KeyId }, "kms:ReplicateKey")
	if err != nil {
		return nil, err
	}
	if err := required("replicaRegion", in.ReplicaRegion != nil); err != nil {
		return nil, err
	}
	if !k.MultiRegion || k.Region != k.PrimaryRegion {
		// Source: kms.snapshot.json test_replicate_replica_key_should_fail.
		return nil, awsapi.Errorf("UnsupportedOperationException", "%s is not a multi-region primary key.", k.ARN)
	}
	if err := usable(k); err != nil {
		return nil, err
	}
	region := *in.ReplicaRegion
	if region == k.Region {
		return nil, awsapi.Errorf("ValidationException", "ReplicaRegion %s is the Region of the primary key %s: name another Region", region, k.ARN)
	}
	if o := s.keys[region+"/"+k.ID]; o != nil && !o.deleted(c.r.Time) {
		return nil, awsapi.Errorf("AlreadyExistsException", "A replica of %s already exists in %s", k.ARN, region)
	}
	if err := validateTags(in.Tags); err != nil {
		return nil, err
	}
	policy := defaultKeyPolicy(s.partition, k.Account)
	if in.Policy != nil {
		if err := validatePolicy(*in.Policy); err != nil {
			return nil, err
		}
		policy = *in.Policy
	}
	rk := k.clone()
	rk.Region, rk.ARN = region, s.keyARN(region, k.Account, k.ID)
	rk.Created, rk.Description, rk.Policy, rk.Tags = c.r.Time, in.Description, policy, in.Tags
	rk.State, rk.DeletionDate, rk.PendingWindow = stateEnabled, nil, 0
	if err := s.putKeys(rk); err != nil {
		return nil, err
	}
	md := s.metadata(rk)
	// The answer shows the replica while AWS is still creating it, as
	// recorded (kms.snapshot.json test_replicate_key "replicate-key"); here
	// it is usable at once.
	md.KeyState, md.Enabled, md.CurrentKeyMaterialId = "Creating", false, ""
	tags := in.Tags
	if tags == nil {
		tags = []tag{}
	}
	return map[string]any{"ReplicaKeyMetadata": md, "ReplicaPolicy": policy, "ReplicaTags": tags}, nil
}

type policyIn struct {
	KeyId      *string
	PolicyName *string
	Policy     *string
}

// checkPolicyName: a key has one policy, "default".
// Source: moto kms/responses.py _assert_default_policy.
func checkPolicyName(name *string) error {
	if name != nil && *name != "default" {
		return awsapi.Errorf("NotFoundException", "No such policy exists")
	}
	return nil
}

func (s *Service) getKeyPolicy(c *call, body []byte) (any, error) {
	var in policyIn
	s.mu.Lock()
	defer s.mu.Unlock()
	k, err := s.lookup(c, body, &in, func() *string { return in.KeyId }, "kms:GetKeyPolicy")
	if err != nil {
		return nil, err
	}
	if err := checkPolicyName(in.PolicyName); err != nil {
		return nil, err
	}
	return map[string]any{"Policy": k.Policy, "PolicyName": "default"}, nil
}

func (s *Service) putKeyPolicy(c *call, body []byte) (any, error) {
	var in policyIn
	return s.mutate(c, body, &in, func() *string { return in.KeyId }, "kms:PutKeyPolicy", func(k *key) (any, error) {
		if err := required("policy", in.Policy != nil); err != nil {
			return nil, err
		}
		if err := checkPolicyName(in.PolicyName); err != nil {
			return nil, err
		}
		if err := validatePolicy(*in.Policy); err != nil {
			return nil, err
		}
		if err := notCustomerManaged(k); err != nil {
			return nil, err
		}
		if err := notPendingDeletion(k); err != nil {
			return nil, err
		}
		k.Policy = *in.Policy
		return nil, nil
	})
}
