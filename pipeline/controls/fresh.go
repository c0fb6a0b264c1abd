package controls

import (
	"context"
	"errors"
	"fmt"

	"github.com/secure-movie-service/sms/pipeline/predicate"
)

// ErrStale is returned, wrapped, when a control-results predicate is not the work tree's.
var ErrStale = errors.New("control results are stale")

// Fresh reports whether the control-results predicate at path holds the results of the
// work tree at root as it is now: a well-formed predicate for HEAD, from a clean tree, and the
// tree still clean. It reads the predicate with the same strict parser verification uses, so
// a release reruns the evidence whenever it cannot be sure.
func Fresh(ctx context.Context, root, path string) error {
	raw, err := predicate.ReadFile(path)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrStale, err)
	}
	s, err := predicate.Summarize(predicate.TypeControls, raw)
	if err != nil {
		return fmt.Errorf("%w: %s: %w", ErrStale, path, err)
	}
	o := Options{Root: root}
	if err := o.defaults(); err != nil {
		return err
	}
	head, dirty := revision(ctx, o)
	switch c := s.Controls; {
	case head == "":
		return fmt.Errorf("%w: %s is not a git work tree", ErrStale, root)
	case c.Revision != head:
		return fmt.Errorf("%w: %s is for %.12s, HEAD is %.12s", ErrStale, path, c.Revision, head)
	case c.Dirty || dirty:
		return fmt.Errorf("%w: the work tree has uncommitted changes", ErrStale)
	}
	return nil
}
