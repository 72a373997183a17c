package kmsemu

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"sort"
)

// Ciphertext blob of a symmetric key (our own format; AWS's is opaque too):
//
//	byte    format version (1)
//	byte    len(key id), then the key id
//	byte    len(material id), then the material id
//	12      GCM nonce
//	rest    AES-256-GCM ciphertext and tag
//
// The additional authenticated data is the header (version, key id, material
// id) followed by the canonical encoding of the encryption context, so that a
// changed byte anywhere, or a different context, fails to open and becomes
// InvalidCiphertextException.
const blobVersion = 1

type blobHeader struct {
	keyID      string
	materialID string
}

func (h blobHeader) encode() []byte {
	b := []byte{blobVersion, byte(len(h.keyID))}
	b = append(b, h.keyID...)
	b = append(b, byte(len(h.materialID)))
	return append(b, h.materialID...)
}

var errBadBlob = errors.New("malformed ciphertext blob")

// parseBlob splits a blob into its header, the header's bytes, and the
// sealed rest (nonce and ciphertext).
func parseBlob(blob []byte) (h blobHeader, header, sealed []byte, err error) {
	if len(blob) < 3 || blob[0] != blobVersion {
		return h, nil, nil, errBadBlob
	}
	i := 1
	n := int(blob[i])
	i++
	if len(blob) < i+n+1 {
		return h, nil, nil, errBadBlob
	}
	h.keyID = string(blob[i : i+n])
	i += n
	n = int(blob[i])
	i++
	if len(blob) < i+n+12+16 {
		return h, nil, nil, errBadBlob
	}
	h.materialID = string(blob[i : i+n])
	i += n
	return h, blob[:i], blob[i:], nil
}

// canonicalContext encodes an encryption context independently of map order:
// count, then each pair sorted by key, every string length-prefixed.
func canonicalContext(ctx map[string]string) []byte {
	keys := make([]string, 0, len(ctx))
	for k := range ctx {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	b := binary.BigEndian.AppendUint32(nil, uint32(len(keys)))
	for _, k := range keys {
		b = binary.BigEndian.AppendUint32(b, uint32(len(k)))
		b = append(b, k...)
		v := ctx[k]
		b = binary.BigEndian.AppendUint32(b, uint32(len(v)))
		b = append(b, v...)
	}
	return b
}

func gcm(keyBytes []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(keyBytes)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// sealBlob encrypts plaintext under material m of key keyID.
func sealBlob(keyID string, m *material, plaintext []byte, ctx map[string]string) ([]byte, error) {
	aead, err := gcm(m.plain)
	if err != nil {
		return nil, err
	}
	header := blobHeader{keyID: keyID, materialID: m.ID}.encode()
	nonce := make([]byte, aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	aad := append(append([]byte{}, header...), canonicalContext(ctx)...)
	out := append(header, nonce...)
	return aead.Seal(out, nonce, plaintext, aad), nil
}

// openBlob decrypts the sealed part of a blob with material m.
func openBlob(header, sealed []byte, m *material, ctx map[string]string) ([]byte, error) {
	aead, err := gcm(m.plain)
	if err != nil {
		return nil, err
	}
	if len(sealed) < aead.NonceSize() {
		return nil, errBadBlob
	}
	aad := append(append([]byte{}, header...), canonicalContext(ctx)...)
	return aead.Open(nil, sealed[:aead.NonceSize()], sealed[aead.NonceSize():], aad)
}
