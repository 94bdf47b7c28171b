//go:build race

package insights

// raceEnabled: the detection benchmark runs one seed under the race
// detector, which only slows it (it runs in one goroutine).
const raceEnabled = true
