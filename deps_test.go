package keyhaven_test

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// layer says which of keyhaven's own packages a package may depend on, directly or through
// others, and why. Every package of the module has one: a new package must say where it
// stands.
type layer struct {
	may []string
	why string
}

var (
	domain   = []string{"keyhaven.dev/keyhaven", "keyhaven.dev/keyhaven/secret", "keyhaven.dev/keyhaven/ratelimit", "keyhaven.dev/keyhaven/view"}
	storage  = []string{"keyhaven.dev/keyhaven/sqlstore", "keyhaven.dev/keyhaven/sqlite", "keyhaven.dev/keyhaven/postgres"}
	shared   = []string{"keyhaven.dev/keyhaven/internal/httpx"}
	assembly = join(domain, storage, shared, []string{"keyhaven.dev/keyhaven/api", "keyhaven.dev/keyhaven/graphql", "keyhaven.dev/keyhaven/graphql/model",
		"keyhaven.dev/keyhaven/console", "keyhaven.dev/keyhaven/batch", "keyhaven.dev/keyhaven/verify", "keyhaven.dev/keyhaven/webhook", "keyhaven.dev/keyhaven/usage", "keyhaven.dev/keyhaven/metrics", "keyhaven.dev/keyhaven/node"})
)

var layers = map[string]layer{
	"keyhaven.dev/keyhaven/secret": {nil,
		"the secret format, password hashing and sealing stand alone, under the domain"},
	"keyhaven.dev/keyhaven/ratelimit": {nil,
		"rate limiting knows windows and leases of string keys, nothing of credentials"},
	"keyhaven.dev/keyhaven/view": {nil,
		"how objects are shown is plain data that the domain fills and every surface serves: it knows nothing of them"},
	"keyhaven.dev/keyhaven": {[]string{"keyhaven.dev/keyhaven/secret", "keyhaven.dev/keyhaven/ratelimit", "keyhaven.dev/keyhaven/view"},
		"the domain decides every rule and knows no transport, store or background loop: they depend on it"},
	"keyhaven.dev/keyhaven/sqlstore": {domain,
		"the SQL store implements the domain's Store and knows nothing of who calls it"},
	"keyhaven.dev/keyhaven/sqlite": {join(domain, []string{"keyhaven.dev/keyhaven/sqlstore"}),
		"a database package opens the SQL store on its driver; it serves no request"},
	"keyhaven.dev/keyhaven/postgres": {join(domain, []string{"keyhaven.dev/keyhaven/sqlstore"}),
		"a database package opens the SQL store on its driver and carries invalidations; it serves no request"},
	"keyhaven.dev/keyhaven/verify": {domain,
		"the credential cache sits behind the domain's CredentialResolver: it never reaches a store itself"},
	"keyhaven.dev/keyhaven/batch": {domain,
		"the batch runner talks to the service only: the store is reached through it"},
	"keyhaven.dev/keyhaven/webhook": {domain,
		"the webhook sender talks to the service only: the store is reached through it"},
	"keyhaven.dev/keyhaven/usage": {domain,
		"the usage counter hangs off the service's verdict hook and adds its counts through the domain's UsageStore"},
	"keyhaven.dev/keyhaven/metrics": {domain,
		"metrics are told of requests and verdicts, and read what other packages count through functions given at wiring: they import none of them"},
	"keyhaven.dev/keyhaven/internal/httpx": {domain,
		"what the HTTP transports share sits under all of them, so that none imports another"},
	"keyhaven.dev/keyhaven/api": {join(domain, shared),
		"a transport maps the domain's answers; it imports no other transport and reaches the store only through the service"},
	"keyhaven.dev/keyhaven/graphql": {join(domain, shared, []string{"keyhaven.dev/keyhaven/graphql/model"}),
		"a transport maps the domain's answers; it imports no other transport and reaches the store only through the service"},
	"keyhaven.dev/keyhaven/graphql/model": {domain,
		"GraphQL's generated models belong to the GraphQL transport alone"},
	"keyhaven.dev/keyhaven/console": {join(domain, shared),
		"a transport maps the domain's answers; it imports no other transport and reaches the store only through the service"},
	"keyhaven.dev/keyhaven/node": {assembly,
		"node is the one place that wires the service, its store, the transports and the background loops"},
	"keyhaven.dev/keyhaven/cmd/keyhaven": {join(assembly, []string{"keyhaven.dev/keyhaven/internal/client"}),
		"the binary runs nodes and commands; it carries none of the test support"},
	"keyhaven.dev/keyhaven/internal/client": {nil,
		"the command line's REST client sees the API over HTTP only, as any other client does, and imports none of keyhaven"},
	"keyhaven.dev/keyhaven/storetest": {domain,
		"the conformance suite tests any Store through the domain's interface, whatever implements it"},
	"keyhaven.dev/keyhaven/internal/eventually": {nil,
		"the one deadline poll of tests stands alone"},
	"keyhaven.dev/keyhaven/internal/testdb": {join(domain, storage),
		"tests open real databases through the same packages the binary uses"},
	"keyhaven.dev/keyhaven/internal/apitest": {join(assembly, []string{"keyhaven.dev/keyhaven/internal/testdb", "keyhaven.dev/keyhaven/internal/eventually"}),
		"tests run whole nodes, built the way the binary builds them"},
	"keyhaven.dev/keyhaven/internal/fuzzenv": {join(assembly, []string{"keyhaven.dev/keyhaven/internal/testdb", "keyhaven.dev/keyhaven/internal/apitest", "keyhaven.dev/keyhaven/internal/eventually"}),
		"fuzz targets run whole nodes, built the way the binary builds them"},
	"keyhaven.dev/keyhaven/internal/cmd/benchtool": {join(domain, storage, []string{"keyhaven.dev/keyhaven/sdk"}),
		"the benchmark tool prepares databases through the service and the stores, and measures the SDK"},
	"keyhaven.dev/keyhaven/api/clients": {nil,
		"the clients checks are tests of the OpenAPI document alone: they run nodes and generated clients, and hold no code"},
	"keyhaven.dev/keyhaven/sdk": {nil,
		"the SDK is imported by downstream services' modules: it talks to keyhaven over HTTP only and imports none of it"},
}

// forbidden are other packages (and, for modules, their subpackages) some of keyhaven's may
// not depend on, and why.
var forbidden = []struct {
	pkgs []string
	deps []string
	why  string
}{
	{[]string{"keyhaven.dev/keyhaven", "keyhaven.dev/keyhaven/view"},
		[]string{"net/http", "database/sql", "github.com/danielgtaylor/huma", "github.com/99designs/gqlgen", "github.com/jackc/pgx", "modernc.org/sqlite"},
		"the domain is free of HTTP and database code"},
	{[]string{"keyhaven.dev/keyhaven/api", "keyhaven.dev/keyhaven/graphql", "keyhaven.dev/keyhaven/console", "keyhaven.dev/keyhaven/batch", "keyhaven.dev/keyhaven/verify", "keyhaven.dev/keyhaven/webhook", "keyhaven.dev/keyhaven/usage", "keyhaven.dev/keyhaven/internal/httpx"},
		[]string{"database/sql", "github.com/jackc/pgx", "modernc.org/sqlite"},
		"only the stores speak SQL (database/sql/driver's interfaces, which libraries share, are no database)"},
	{[]string{"keyhaven.dev/keyhaven", "keyhaven.dev/keyhaven/secret", "keyhaven.dev/keyhaven/ratelimit", "keyhaven.dev/keyhaven/view", "keyhaven.dev/keyhaven/sqlstore", "keyhaven.dev/keyhaven/sqlite", "keyhaven.dev/keyhaven/postgres", "keyhaven.dev/keyhaven/verify", "keyhaven.dev/keyhaven/batch", "keyhaven.dev/keyhaven/webhook",
		"keyhaven.dev/keyhaven/usage", "keyhaven.dev/keyhaven/internal/httpx", "keyhaven.dev/keyhaven/api", "keyhaven.dev/keyhaven/graphql", "keyhaven.dev/keyhaven/console", "keyhaven.dev/keyhaven/node", "keyhaven.dev/keyhaven/cmd/keyhaven",
		"keyhaven.dev/keyhaven/sdk", "keyhaven.dev/keyhaven/metrics"},
		[]string{"testing"},
		"test support stays out of the binary (and out of the services that import the SDK)"},
	{[]string{"keyhaven.dev/keyhaven", "keyhaven.dev/keyhaven/secret", "keyhaven.dev/keyhaven/ratelimit", "keyhaven.dev/keyhaven/sqlstore", "keyhaven.dev/keyhaven/sqlite", "keyhaven.dev/keyhaven/postgres",
		"keyhaven.dev/keyhaven/verify", "keyhaven.dev/keyhaven/batch", "keyhaven.dev/keyhaven/webhook", "keyhaven.dev/keyhaven/usage", "keyhaven.dev/keyhaven/view", "keyhaven.dev/keyhaven/internal/httpx", "keyhaven.dev/keyhaven/api", "keyhaven.dev/keyhaven/graphql", "keyhaven.dev/keyhaven/console", "keyhaven.dev/keyhaven/sdk"},
		[]string{"github.com/prometheus"},
		"metrics are one package's business: the others count with plain atomics and hooks it reads, so that no rule or hot path depends on a metrics library"},
	{[]string{"keyhaven.dev/keyhaven/sdk"},
		[]string{"database/sql", "github.com/danielgtaylor/huma", "github.com/99designs/gqlgen", "github.com/jackc/pgx", "modernc.org/sqlite"},
		"the SDK is an HTTP client: a service importing it takes in none of keyhaven's server libraries"},
	{[]string{"keyhaven.dev/keyhaven/internal/client"},
		[]string{"database/sql", "github.com/danielgtaylor/huma", "github.com/99designs/gqlgen", "github.com/jackc/pgx", "modernc.org/sqlite"},
		"the command line's REST client knows the API by its JSON alone, not by the server's libraries"},
}

func join(lists ...[]string) []string { return slices.Concat(lists...) }

// TestDependencies holds every package of the module to its layer: which of keyhaven's
// packages it may depend on, and what else it may not.
func TestDependencies(t *testing.T) {
	out, err := exec.Command("go", "list", "-f", "{{.ImportPath}}{{range .Deps}} {{.}}{{end}}", "./...").Output()
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.Lines(string(out)) {
		fields := strings.Fields(line)
		pkg, deps := fields[0], fields[1:]
		l, ok := layers[pkg]
		if !ok {
			t.Errorf("%s has no layer: add it to deps_test.go, with what it may depend on and why", pkg)
			continue
		}
		for _, dep := range deps {
			if (dep == "keyhaven.dev/keyhaven" || strings.HasPrefix(dep, "keyhaven.dev/keyhaven/")) && !slices.Contains(l.may, dep) {
				t.Errorf("%s depends on %s, but %s", pkg, dep, l.why)
			}
			for _, f := range forbidden {
				if !slices.Contains(f.pkgs, pkg) {
					continue
				}
				for _, bad := range f.deps {
					if dep == bad || strings.Contains(bad, ".") && strings.HasPrefix(dep, bad+"/") {
						t.Errorf("%s depends on %s, but %s", pkg, dep, f.why)
					}
				}
			}
		}
	}
}
