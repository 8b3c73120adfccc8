package keyhaven

import (
	"context"
	"strings"
	"time"

	"keyhaven.dev/keyhaven/secret"
)

// Kinds of values the store keeps sealed with the secret key.
const (
	SealedKeyCheck        = "key_check"        // a known value sealed with the key the database is used with
	SealedBatchInput      = "batch_input"      // a batch task's explicit items, bound to the task's id
	SealedBatchPassword   = "batch_password"   // a batch-created access's password, bound to the access's id
	SealedIdempotentReply = "idempotent_reply" // a remembered answer, bound to its tenant, credential and key
	SealedWebhookSecret   = "webhook_secret"   // a webhook's signing secret, bound to this kind and the webhook's id
)

// SealedValue is one value the store holds sealed and the ids of the record it is bound to.
type SealedValue struct {
	Kind   string
	Sealed string
	IDs    []string
}

// SealedFor returns the additional data that binds a sealed value to the ids of its record,
// so that it cannot be moved to another record.
func SealedFor(ids ...string) []byte { return []byte(strings.Join(ids, "\x00")) }

// SealingStore keeps what tells whether a secret key is the one a database's sealed values
// were sealed with.
type SealingStore interface {
	// SealingKeyCheck returns the stored key check value, "" when none is stored.
	SealingKeyCheck(ctx context.Context) (string, error)
	// PutSealingKeyCheck stores sealed as the key check value unless one is stored already,
	// and returns the value stored after the call (the existing one, if any). Concurrent
	// callers all get the same answer.
	PutSealingKeyCheck(ctx context.Context, sealed string, at time.Time) (string, error)
	// SealedSamples returns one stored sealed value of every kind of SealedBatchInput,
	// SealedBatchPassword, SealedIdempotentReply and SealedWebhookSecret there is one of,
	// nothing for a kind there is none of.
	SealedSamples(ctx context.Context) ([]SealedValue, error)
}

const keyCheckPlain = "keyhaven secret key check"

// HoldsSealedData reports whether st holds anything sealed: a key check value or a sealed
// value of any kind. A database that does not can take a new secret key.
func HoldsSealedData(ctx context.Context, st SealingStore) (bool, error) {
	check, err := st.SealingKeyCheck(ctx)
	if err != nil || check != "" {
		return check != "", err
	}
	samples, err := st.SealedSamples(ctx)
	return len(samples) > 0, err
}

// CheckSealingKey returns EINVALID with reason "secret_key_mismatch" unless sealer opens the
// key check value st holds or, without one (a database from before there was one, or one no
// key was used with yet), one sealed value of each kind. It changes nothing.
func CheckSealingKey(ctx context.Context, st SealingStore, sealer *secret.Sealer) error {
	_, err := checkSealingKey(ctx, st, sealer)
	return err
}

// AdoptSealingKey is CheckSealingKey, then it stores a key check value sealed with sealer when
// none is stored yet, so that a later start with another key is refused whatever the database
// holds then. A key that is refused could not open the database's sealed values: serving with
// it would fail every read of them.
func AdoptSealingKey(ctx context.Context, st SealingStore, sealer *secret.Sealer, now time.Time) error {
	checked, err := checkSealingKey(ctx, st, sealer)
	if err != nil || checked {
		return err
	}
	// Another process may store its own value first: the stored one is what counts.
	check, err := st.PutSealingKeyCheck(ctx, sealer.Seal([]byte(keyCheckPlain), SealedFor(SealedKeyCheck)), now)
	if err != nil {
		return err
	}
	return openKeyCheck(sealer, check)
}

// checkSealingKey is CheckSealingKey; it reports whether a key check value was there.
func checkSealingKey(ctx context.Context, st SealingStore, sealer *secret.Sealer) (bool, error) {
	check, err := st.SealingKeyCheck(ctx)
	if err != nil {
		return false, err
	}
	if check != "" {
		return true, openKeyCheck(sealer, check)
	}
	samples, err := st.SealedSamples(ctx)
	if err != nil {
		return false, err
	}
	for _, v := range samples {
		if _, err := sealer.Open(v.Sealed, SealedFor(v.IDs...)); err != nil {
			return false, keyMismatch(v.Kind)
		}
	}
	return false, nil
}

func openKeyCheck(sealer *secret.Sealer, check string) error {
	plain, err := sealer.Open(check, SealedFor(SealedKeyCheck))
	if err != nil || string(plain) != keyCheckPlain {
		return keyMismatch(SealedKeyCheck)
	}
	return nil
}

func keyMismatch(kind string) error {
	return &Error{Code: EINVALID, Reason: "secret_key_mismatch",
		Message: "the secret key is not the one the database's sealed values were sealed with (it cannot open its " + strings.ReplaceAll(kind, "_", " ") + ")"}
}
