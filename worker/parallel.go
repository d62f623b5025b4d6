package worker

import "sync"

// each runs f(0..n-1) on up to w.parallel goroutines and returns when all have returned.
// The simulation sets parallel to 1, so that a worker's store and broker calls come in one
// order and a seed replays exactly.
func (w *Worker) each(n int, f func(i int)) {
	if w.parallel <= 1 || n <= 1 {
		for i := 0; i < n; i++ {
			f(i)
		}
		return
	}
	var wg sync.WaitGroup
	sem := make(chan struct{}, w.parallel)
	for i := 0; i < n; i++ {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			f(i)
		}()
	}
	wg.Wait()
}
