package keyhaven

import (
	"context"
	"log/slog"
	"time"

	"keyhaven.dev/keyhaven/ratelimit"
	"keyhaven.dev/keyhaven/secret"
)

// Service holds keyhaven's business rules. REST, GraphQL and the console all call it, so
// that every transport enforces the same rules.
type Service struct {
	store Store
	Clock Clock
	Log   *slog.Logger
	// PasswordParams are the argon2id parameters for user passwords.
	PasswordParams secret.Argon2Params
	// SessionTTL is how long a login session lasts.
	SessionTTL time.Duration
	// Sealer encrypts what is kept at rest for a while: batch passwords and replayable
	// responses of idempotent requests.
	Sealer *secret.Sealer
	// BatchRetention is how long a finished batch task keeps its passwords.
	BatchRetention time.Duration
	// BatchSubmitted, when set, is told of each new batch task, to start it at once.
	BatchSubmitted func()
	// Credentials resolves secrets' hashes: a cache in front of Store, or Store when nil.
	Credentials CredentialResolver
	// Invalidated, when set, is told the ids (of credentials, users, applications or
	// tenants) whose credentials changed, after the change is stored, so that caches on
	// every node drop what they hold of them.
	Invalidated func(ctx context.Context, ids ...string)
	// Used, when set, is told each time a credential is judged valid, to record its last use.
	Used func(c *Credential, at time.Time)
	// Judged, when set, is told every verdict Judge reaches (verifications and uses of
	// keyhaven's own API alike), once, to count it. It runs on the verification's path and
	// must not block.
	Judged func(u *Use, v *Verdict)
	// Hashes bounds the slow password hashes running at once.
	Hashes *HashLimiter
	// Guesses limits failed sign-ins and device verifications; nil limits nothing.
	Guesses *GuessLimiter
	// Rates holds keys to their rate limits: in memory on one node, leased from the
	// database when several share it.
	Rates ratelimit.Limiter
	// PublicURL is where clients reach keyhaven, without a trailing slash: tenant T's token
	// issuer is PublicURL + "/api/T".
	PublicURL string
	// WebhookDestinations, when set, are the only destinations webhooks may send to.
	WebhookDestinations *Destinations
	// Resolver resolves webhooks' host names to check them against WebhookDestinations
	// (net.DefaultResolver when nil).
	Resolver Resolver
	// WebhookRetrySchedule is how long a failed delivery waits before each retry
	// (DefaultRetrySchedule when empty): once it is used up, the delivery is given up.
	WebhookRetrySchedule []time.Duration
	// SigningKeyMaxAge is how old a tenant's active signing key gets before it is rotated
	// (DefaultSigningKeyMaxAge when zero).
	SigningKeyMaxAge time.Duration

	bursts  burstCounter
	keySets keySetCache
	dummyState
}

// NewService returns a Service over store with the production defaults.
func NewService(store Store, log *slog.Logger) *Service {
	return &Service{
		store:          store,
		Clock:          SystemClock(),
		Log:            log,
		PasswordParams: secret.OWASP,
		SessionTTL:     12 * time.Hour,
		BatchRetention: 24 * time.Hour,
		Hashes:         NewHashLimiter(HashSlots(0, secret.OWASP.Memory)),
		Guesses:        NewGuessLimiter(0, 0),
		Rates:          ratelimit.NewLocal(),
	}
}

// GeneratedPasswordLen is the length of generated passwords: 24 base62 characters, 142 bits.
const GeneratedPasswordLen = 24

// invalidate tells caches that the credentials of ids changed.
func (s *Service) invalidate(ctx context.Context, ids ...string) {
	if s.Invalidated != nil {
		s.Invalidated(ctx, ids...)
	}
}

// now is the service's clock reading in UTC, at the microsecond precision the stores keep.
func (s *Service) now() time.Time { return s.Clock.Now().UTC().Truncate(time.Microsecond) }
