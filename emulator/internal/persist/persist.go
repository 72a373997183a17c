// Package persist keeps the local endpoint's state: an in-memory store by
// default, or a bbolt file in a data directory, with a master key that seals
// key material at rest so the file never holds plaintext key bytes.
package persist

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"sync"

	bolt "go.etcd.io/bbolt"
)

// Tx is a read-write view of the store inside one atomic update.
type Tx interface {
	Get(bucket, key string) []byte
	Put(bucket, key string, value []byte) error
	Delete(bucket, key string) error
	// ForEach visits the bucket's entries in key order.
	ForEach(bucket string, fn func(key string, value []byte) error) error
}

// DB is an atomic bucket/key store.
type DB interface {
	// Update runs fn in one atomic transaction: all its writes or none.
	Update(fn func(Tx) error) error
	View(fn func(Tx) error) error
	// Seal encrypts b with the master key, binding aad; Unseal reverses it.
	Seal(b, aad []byte) ([]byte, error)
	Unseal(b, aad []byte) ([]byte, error)
	Close() error
}

// NewMemory returns a DB that lives in memory only.
func NewMemory() DB {
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		panic(err)
	}
	aead, _ := newAEAD(key)
	return &memDB{buckets: map[string]map[string][]byte{}, aead: aead}
}

type memDB struct {
	mu      sync.RWMutex
	buckets map[string]map[string][]byte
	aead    cipher.AEAD
}

type memTx struct {
	db       *memDB
	writable bool
	// pending holds writes until fn returns without error.
	pending map[string]map[string][]byte // nil value means deleted
}

func (t *memTx) Get(bucket, key string) []byte {
	if p, ok := t.pending[bucket]; ok {
		if v, ok := p[key]; ok {
			return v
		}
	}
	return t.db.buckets[bucket][key]
}

func (t *memTx) Put(bucket, key string, value []byte) error {
	if !t.writable {
		return errors.New("persist: write in a read-only transaction")
	}
	if t.pending[bucket] == nil {
		t.pending[bucket] = map[string][]byte{}
	}
	t.pending[bucket][key] = append([]byte{}, value...)
	return nil
}

func (t *memTx) Delete(bucket, key string) error {
	if !t.writable {
		return errors.New("persist: write in a read-only transaction")
	}
	if t.pending[bucket] == nil {
		t.pending[bucket] = map[string][]byte{}
	}
	t.pending[bucket][key] = nil
	return nil
}

func (t *memTx) ForEach(bucket string, fn func(string, []byte) error) error {
	merged := map[string][]byte{}
	for k, v := range t.db.buckets[bucket] {
		merged[k] = v
	}
	for k, v := range t.pending[bucket] {
		if v == nil {
			delete(merged, k)
		} else {
			merged[k] = v
		}
	}
	keys := make([]string, 0, len(merged))
	for k := range merged {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if err := fn(k, merged[k]); err != nil {
			return err
		}
	}
	return nil
}

func (m *memDB) Update(fn func(Tx) error) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	tx := &memTx{db: m, writable: true, pending: map[string]map[string][]byte{}}
	if err := fn(tx); err != nil {
		return err
	}
	for b, kv := range tx.pending {
		if m.buckets[b] == nil {
			m.buckets[b] = map[string][]byte{}
		}
		for k, v := range kv {
			if v == nil {
				delete(m.buckets[b], k)
			} else {
				m.buckets[b][k] = v
			}
		}
	}
	return nil
}

func (m *memDB) View(fn func(Tx) error) error {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return fn(&memTx{db: m})
}

func (m *memDB) Seal(b, aad []byte) ([]byte, error)   { return seal(m.aead, b, aad) }
func (m *memDB) Unseal(b, aad []byte) ([]byte, error) { return unseal(m.aead, b, aad) }
func (m *memDB) Close() error                         { return nil }

// Open opens (creating if needed) the data directory dir: dir/state.db, a
// bbolt file, and dir/master.key, 32 random bytes with mode 0600 that seal
// key material stored in state.db.
func Open(dir string) (DB, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create data directory %q: %w", dir, err)
	}
	key, err := loadOrCreateMasterKey(filepath.Join(dir, "master.key"))
	if err != nil {
		return nil, err
	}
	aead, err := newAEAD(key)
	if err != nil {
		return nil, err
	}
	path := filepath.Join(dir, "state.db")
	b, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 0})
	if err != nil {
		return nil, fmt.Errorf("open data file %q: %w", path, err)
	}
	return &boltDB{db: b, aead: aead}, nil
}

func loadOrCreateMasterKey(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err == nil {
		if len(b) != 32 {
			return nil, fmt.Errorf("master key %q has %d bytes, want 32: restore it from backup or remove the data directory to start afresh", path, len(b))
		}
		return b, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("read master key %q: %w", path, err)
	}
	b = make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, fmt.Errorf("create master key %q: %w", path, err)
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return nil, fmt.Errorf("write master key %q: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return nil, err
	}
	return b, f.Close()
}

type boltDB struct {
	db   *bolt.DB
	aead cipher.AEAD
}

type boltTx struct{ tx *bolt.Tx }

func (t boltTx) Get(bucket, key string) []byte {
	b := t.tx.Bucket([]byte(bucket))
	if b == nil {
		return nil
	}
	v := b.Get([]byte(key))
	if v == nil {
		return nil
	}
	return append([]byte{}, v...)
}

func (t boltTx) Put(bucket, key string, value []byte) error {
	b, err := t.tx.CreateBucketIfNotExists([]byte(bucket))
	if err != nil {
		return err
	}
	return b.Put([]byte(key), value)
}

func (t boltTx) Delete(bucket, key string) error {
	b := t.tx.Bucket([]byte(bucket))
	if b == nil {
		return nil
	}
	return b.Delete([]byte(key))
}

func (t boltTx) ForEach(bucket string, fn func(string, []byte) error) error {
	b := t.tx.Bucket([]byte(bucket))
	if b == nil {
		return nil
	}
	return b.ForEach(func(k, v []byte) error { return fn(string(k), append([]byte{}, v...)) })
}

func (d *boltDB) Update(fn func(Tx) error) error {
	return d.db.Update(func(tx *bolt.Tx) error { return fn(boltTx{tx}) })
}

func (d *boltDB) View(fn func(Tx) error) error {
	return d.db.View(func(tx *bolt.Tx) error { return fn(boltTx{tx}) })
}

func (d *boltDB) Seal(b, aad []byte) ([]byte, error)   { return seal(d.aead, b, aad) }
func (d *boltDB) Unseal(b, aad []byte) ([]byte, error) { return unseal(d.aead, b, aad) }
func (d *boltDB) Close() error                         { return d.db.Close() }

func newAEAD(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

func seal(a cipher.AEAD, b, aad []byte) ([]byte, error) {
	nonce := make([]byte, a.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	return a.Seal(nonce, nonce, b, aad), nil
}

func unseal(a cipher.AEAD, b, aad []byte) ([]byte, error) {
	if len(b) < a.NonceSize() {
		return nil, errors.New("persist: sealed value too short")
	}
	return a.Open(nil, b[:a.NonceSize()], b[a.NonceSize():], aad)
}
