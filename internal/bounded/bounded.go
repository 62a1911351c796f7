// Package bounded waits for work that may not honour its context, and stops waiting when the
// context ends. Google's libraries mint some tokens without any context (a service account key's
// token exchange in golang.org/x/oauth2/jwt, an impersonated ADC or ID token inside the
// transport or client.Do), so a context handed to them cannot stop them; waiting on ctx here
// can. The doctor and the access reports bound their reads of Google's APIs with it.
package bounded

import "context"

// Run runs work with ctx and returns its result, or ok false as soon as ctx is done, whichever
// comes first. The work's goroutine is left to finish on its own: the tools exit right after.
func Run[T any](ctx context.Context, work func(context.Context) T) (T, bool) {
	done := make(chan T, 1) // buffered, so the goroutine never blocks once nobody waits
	go func() { done <- work(ctx) }()
	select {
	case v := <-done:
		return v, true
	case <-ctx.Done():
		var zero T
		return zero, false
	}
}
