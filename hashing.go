package keyhaven

import (
	"context"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"keyhaven.dev/keyhaven/secret"
)

// HashLimiter bounds how many slow password hashes (argon2id, 19 MiB and tens of
// milliseconds each) run at once, so that a flood of logins or device verifications with
// chosen passwords can neither exhaust memory nor queue without end. Interactive callers
// wait a moment for a slot and are then shed with EUNAVAILABLE (503 with Retry-After);
// background work (batches) waits its turn.
type HashLimiter struct {
	slots chan struct{}
	// MaxWait is how long an interactive caller waits for a slot, timed by Clock.
	MaxWait time.Duration
	Clock   Clock

	computed atomic.Uint64 // argon2id computations, for tests and metrics
	inFlight atomic.Int64
	peak     atomic.Int64
}

// NewHashLimiter returns a limiter of n concurrent hashes (at least one).
func NewHashLimiter(n int) *HashLimiter {
	return &HashLimiter{slots: make(chan struct{}, max(n, 1)), MaxWait: time.Second, Clock: SystemClock()}
}

// HashSlots returns how many argon2id hashes of memoryKiB each may run at once within a
// memory limit of limitMB (0: none): one per core, and at most what a quarter of the limit
// holds.
func HashSlots(limitMB int, memoryKiB uint32) int {
	n := runtime.GOMAXPROCS(0)
	if limitMB > 0 && memoryKiB > 0 {
		n = min(n, limitMB*1024/4/int(memoryKiB))
	}
	return max(n, 1)
}

var errBusy = Reasonf(EUNAVAILABLE, "busy", "too many password checks are running; try again shortly")

// acquire takes a slot, waiting at most MaxWait (wait false) or until ctx ends (wait true),
// and returns its release.
func (h *HashLimiter) acquire(ctx context.Context, wait bool) (func(), error) {
	select {
	case h.slots <- struct{}{}:
	default:
		var timeout <-chan time.Time
		if !wait {
			t := h.Clock.NewTimer(h.MaxWait)
			defer t.Stop()
			timeout = t.Chan()
		}
		select {
		case h.slots <- struct{}{}:
		case <-timeout:
			return nil, errBusy
		case <-ctx.Done():
			return nil, errBusy
		}
	}
	n := h.inFlight.Add(1)
	for p := h.peak.Load(); n > p && !h.peak.CompareAndSwap(p, n); p = h.peak.Load() {
	}
	h.computed.Add(1)
	return func() {
		h.inFlight.Add(-1)
		<-h.slots
	}, nil
}

// Computed returns how many slow hashes have run.
func (h *HashLimiter) Computed() uint64 { return h.computed.Load() }

// Peak returns the most slow hashes that ever ran at once.
func (h *HashLimiter) Peak() int { return int(h.peak.Load()) }

// hashPassword hashes a chosen password with argon2id, within the limit.
func (s *Service) hashPassword(ctx context.Context, password string) (string, error) {
	release, err := s.Hashes.acquire(ctx, false)
	if err != nil {
		return "", err
	}
	defer release()
	return secret.HashPassword(password, s.PasswordParams), nil
}

// checkPassword reports whether password matches a stored hash of either scheme; an argon2id
// check runs within the limit.
func (s *Service) checkPassword(ctx context.Context, password, stored string) (bool, error) {
	if !slowHash(stored) {
		return secret.CheckStored(password, stored), nil
	}
	release, err := s.Hashes.acquire(ctx, false)
	if err != nil {
		return false, err
	}
	defer release()
	return secret.CheckPassword(password, stored), nil
}

// failSlowly spends what one argon2id check costs, so that a failure costs the same whether
// the user or device exists, and whatever scheme its password is stored with.
func (s *Service) failSlowly(ctx context.Context, password string) error {
	_, err := s.checkPassword(ctx, password, s.dummyHash())
	return err
}

// dummyHash is an argon2id hash with the service's parameters that no password matches in
// practice. It is made on first use: hashing costs 19 MiB and tens of milliseconds, which
// commands that never check a password should not pay at start-up.
func (s *Service) dummyHash() string {
	s.dummyOnce.Do(func() { s.dummy = secret.HashPassword(secret.RandomString(GeneratedPasswordLen), s.PasswordParams) })
	return s.dummy
}

func slowHash(stored string) bool { return strings.HasPrefix(stored, "$argon2id$") }

// dummyState is the lazily made dummy hash of a Service.
type dummyState struct {
	dummyOnce sync.Once
	dummy     string
}
