package catalog

import (
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/opentrail/opentrail/internal/event"
	"github.com/opentrail/opentrail/internal/store/fileutil"
)

// ChannelsFileName is the channel catalogue's file inside the catalog's
// directory (docs/format/channels.md).
const ChannelsFileName = "channels.json"

// SourceCustom is the only channel Source OpenTrail has: events of any
// application outside AWS. Partner sources are not supported.
const SourceCustom = "Custom"

// DestinationEventDataStore is the Type of a channel destination that is
// an event data store.
const DestinationEventDataStore = "EVENT_DATA_STORE"

// Sentinel errors of channels.
var (
	// ErrChannelNotFound: no live channel has this id or ARN in the
	// account (ChannelNotFoundException).
	ErrChannelNotFound = errors.New("catalog: channel not found")
	// ErrChannelExists: a live channel with this name already exists in
	// the account and region (ChannelAlreadyExistsException).
	ErrChannelExists = errors.New("catalog: channel already exists")
	// ErrChannelLimit: the region already holds the most channels the
	// quota allows (ChannelMaxLimitExceededException); returned as a
	// *LimitError with Channels set.
	ErrChannelLimit = errors.New("catalog: too many channels in the region")
	// ErrStoreHasChannel: the event data store cannot be deleted while a
	// channel delivers to it (ChannelExistsForEDSException).
	ErrStoreHasChannel = errors.New("catalog: a channel delivers to the event data store")
)

// ChannelDestination is an event data store a channel delivers or
// delivered to, with the ranges of event-log sequence numbers whose
// records of the channel the store takes. It is current exactly while its
// last range is open.
type ChannelDestination struct {
	Type     string     `json:"type"`
	Location string     `json:"location"` // the store's ARN
	Ingest   []SeqRange `json:"ingest"`
}

// Current reports whether the store is one of the channel's destinations
// now: its last range is open.
func (d *ChannelDestination) Current() bool {
	return len(d.Ingest) > 0 && d.Ingest[len(d.Ingest)-1].To == 0
}

// Channel is one CloudTrail Lake channel (lake.md §7.1).
type Channel struct {
	ID               string    `json:"id"`
	Name             string    `json:"name"`
	Account          string    `json:"account"`
	HomeRegion       string    `json:"homeRegion"`
	Source           string    `json:"source"`
	CreatedTimestamp time.Time `json:"createdTimestamp"`
	// Destinations are every store the channel delivers or delivered to;
	// [Channel.CurrentDestinations] are the current ones.
	Destinations   []ChannelDestination `json:"destinations"`
	Tags           []Tag                `json:"tags,omitempty"`
	ResourcePolicy string               `json:"resourcePolicy,omitempty"`
	// DeletedAt is set once the channel is deleted; the entry stays so
	// the Lake still takes the events appended before.
	DeletedAt  time.Time `json:"deletedAt,omitzero"`
	Generation uint64    `json:"generation"`
}

// ChannelARN builds a channel ARN.
func ChannelARN(region, account, id string) string {
	return "arn:aws:cloudtrail:" + region + ":" + account + ":channel/" + id
}

// ARN returns the channel's ARN.
func (ch *Channel) ARN() string { return ChannelARN(ch.HomeRegion, ch.Account, ch.ID) }

// Deleted reports whether the channel was deleted.
func (ch *Channel) Deleted() bool { return !ch.DeletedAt.IsZero() }

// CurrentDestinations returns the ARNs of the stores the channel delivers
// to now, in the order they were added.
func (ch *Channel) CurrentDestinations() []string {
	var out []string
	for i := range ch.Destinations {
		if ch.Destinations[i].Current() {
			out = append(out, ch.Destinations[i].Location)
		}
	}
	return out
}

// Clone returns an exact deep copy of ch (see [Trail.Clone]).
func (ch Channel) Clone() Channel {
	ch.Destinations = slices.Clone(ch.Destinations)
	for i := range ch.Destinations {
		ch.Destinations[i].Ingest = slices.Clone(ch.Destinations[i].Ingest)
	}
	ch.Tags = cloneTags(ch.Tags)
	return ch
}

// channelsFile is the JSON document.
type channelsFile struct {
	Version  int       `json:"version"`
	Channels []Channel `json:"channels"`
}

// loadChannels reads DIR/channels.json and DIR/channelstatus.json into c;
// a missing file is no channels.
func (c *Catalog) loadChannels(dir string) error {
	c.channelsPath = filepath.Join(dir, ChannelsFileName)
	c.channels = map[string]*Channel{}
	c.loadIngestion(dir)
	gen, err := loadEntries(c.channelsPath, "channels", "every channel", checkChannelEntry,
		func(ch *Channel) (string, uint64) { return ch.ID, ch.Generation }, c.channels)
	c.gen = max(c.gen, gen)
	return err
}

// checkChannelEntry checks the rules of docs/format/channels.md that the
// rest of OpenTrail relies on.
func checkChannelEntry(ch *Channel) error {
	switch {
	case !validStoreID(ch.ID):
		return fmt.Errorf("id %q is not 1 to 64 letters, digits and hyphens", ch.ID)
	case !event.ValidAccountID(ch.Account):
		return fmt.Errorf("channel %s: account %q is not a 12-digit account id", ch.ID, ch.Account)
	case !event.ValidRegion(ch.HomeRegion):
		return fmt.Errorf("channel %s: homeRegion %q is not a region name", ch.ID, ch.HomeRegion)
	case ch.Name == "":
		return fmt.Errorf("channel %s has no name", ch.ID)
	case ch.Source != SourceCustom:
		return fmt.Errorf("channel %s: source %q is not %s", ch.ID, ch.Source, SourceCustom)
	}
	for i, d := range ch.Destinations {
		if d.Type != DestinationEventDataStore || !strings.Contains(d.Location, ":eventdatastore/") {
			return fmt.Errorf("channel %s: destinations[%d] is not an event data store ARN (type %q, location %q)", ch.ID, i, d.Type, d.Location)
		}
		if len(d.Ingest) == 0 {
			return fmt.Errorf("channel %s: destinations[%d] has no ingest range", ch.ID, i)
		}
		if err := checkRanges(d.Ingest); err != nil {
			return fmt.Errorf("channel %s: destinations[%d]: %w", ch.ID, i, err)
		}
		if ch.Deleted() && d.Current() {
			return fmt.Errorf("channel %s is deleted but destinations[%d] has an open range", ch.ID, i)
		}
	}
	return nil
}

// checkRanges checks that rs are in order, not overlapping, and that
// only the last may be open.
func checkRanges(rs []SeqRange) error {
	var prev uint64
	for i, r := range rs {
		switch {
		case r.From == 0 || r.From <= prev:
			return fmt.Errorf("ingest[%d] starts at %d, not after the range before it", i, r.From)
		case r.To == 0 && i != len(rs)-1:
			return fmt.Errorf("ingest[%d] is open but is not the last range", i)
		case r.To != 0 && r.To < r.From:
			return fmt.Errorf("ingest[%d] ends at %d, before it starts", i, r.To)
		}
		prev = r.To
	}
	return nil
}

// CreateChannel adds ch under a new random id, with Destinations the
// store ARNs dests (each ingesting from head()+1), and returns it as
// stored. It fails with ErrChannelExists (the name is taken in the account
// and region) or a *LimitError.
func (c *Catalog) CreateChannel(ch Channel, dests []string, head func() uint64) (Channel, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if ch.CreatedTimestamp.IsZero() {
		ch.CreatedTimestamp = c.now().UTC()
	}
	ch.Destinations, ch.DeletedAt = nil, time.Time{}
	ch.ID = newStoreID()
	for c.channels[ch.ID] != nil {
		ch.ID = newStoreID()
	}
	if err := c.checkChannelNameLocked(&ch); err != nil {
		return Channel{}, err
	}
	n := 1
	for _, o := range c.channels {
		if o.Account == ch.Account && o.HomeRegion == ch.HomeRegion && !o.Deleted() {
			n++
		}
	}
	if n > c.maxChannels {
		return Channel{}, &LimitError{Region: ch.HomeRegion, Max: c.maxChannels, Channels: true}
	}
	if err := c.checkDestinationsLocked(&ch, dests); err != nil {
		return Channel{}, err
	}
	if err := setDestinations(&ch, dests, head); err != nil {
		return Channel{}, err
	}
	return c.putChannelLocked(ch, nil)
}

// GetChannel returns the account's live channel named by idOrARN: its id,
// or its ARN (which must name the channel's account and home region).
func (c *Catalog) GetChannel(account, idOrARN string) (Channel, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	ch := c.channelLocked(idOrARN)
	if ch == nil || ch.Account != account {
		return Channel{}, false
	}
	return ch.Clone(), true
}

// ChannelByARN returns the live channel with this ARN, whatever its
// account: PutAuditEvents finds a channel another account may write to.
func (c *Catalog) ChannelByARN(arn string) (Channel, bool) {
	if !strings.HasPrefix(arn, "arn:") {
		return Channel{}, false
	}
	c.mu.RLock()
	defer c.mu.RUnlock()
	ch := c.channelLocked(arn)
	if ch == nil {
		return Channel{}, false
	}
	return ch.Clone(), true
}

// channelLocked resolves an id or an ARN to a live channel, nil when
// there is none.
func (c *Catalog) channelLocked(idOrARN string) *Channel {
	id, region, account := idOrARN, "", ""
	if strings.HasPrefix(idOrARN, "arn:") {
		p := strings.SplitN(idOrARN, ":", 6)
		if len(p) != 6 || p[1] != "aws" || p[2] != "cloudtrail" || !strings.HasPrefix(p[5], "channel/") {
			return nil
		}
		id, region, account = strings.TrimPrefix(p[5], "channel/"), p[3], p[4]
	}
	ch, ok := c.channels[id]
	if !ok || ch.Deleted() || region != "" && (ch.HomeRegion != region || ch.Account != account) {
		return nil
	}
	return ch
}

// ListChannels returns the account's live channels whose home region is
// region ("" for every region), sorted by id.
func (c *Catalog) ListChannels(account, region string) []Channel {
	c.mu.RLock()
	defer c.mu.RUnlock()
	var out []Channel
	for _, ch := range c.channels {
		if ch.Account == account && (region == "" || ch.HomeRegion == region) && !ch.Deleted() {
			out = append(out, ch.Clone())
		}
	}
	slices.SortFunc(out, func(a, b Channel) int { return strings.Compare(a.ID, b.ID) })
	return out
}

// AllChannels returns every channel of every account, deleted ones
// included (the Lake still takes their events), sorted by id.
func (c *Catalog) AllChannels() []Channel {
	c.mu.RLock()
	defer c.mu.RUnlock()
	out := make([]Channel, 0, len(c.channels))
	for _, ch := range c.channels {
		out = append(out, ch.Clone())
	}
	slices.SortFunc(out, func(a, b Channel) int { return strings.Compare(a.ID, b.ID) })
	return out
}

// ChannelsDeliveringTo returns the ARNs of the live channels of which the
// store with this ARN is a current destination, sorted.
func (c *Catalog) ChannelsDeliveringTo(storeARN string) []string {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.channelsToLocked(storeARN)
}

// UpdateChannel applies fn to a copy of the live channel with this id and
// stores the result; an error from fn leaves the channel unchanged and is
// returned as is. fn may change the name, tags and resource policy, and
// set *dests to the store ARNs the channel is to deliver to (nil leaves
// them): a store added ingests from head()+1, a store removed stops at
// head(). A new name must be free (ErrChannelExists).
func (c *Catalog) UpdateChannel(id string, head func() uint64, fn func(ch *Channel, dests *[]string) error) (Channel, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	old, ok := c.channels[id]
	if !ok || old.Deleted() {
		return Channel{}, fmt.Errorf("%w: %s", ErrChannelNotFound, id)
	}
	ch := old.Clone()
	var dests []string
	if err := fn(&ch, &dests); err != nil {
		return Channel{}, err
	}
	if ch.ID != old.ID || ch.Account != old.Account || ch.HomeRegion != old.HomeRegion || ch.Source != old.Source || ch.Deleted() {
		return Channel{}, fmt.Errorf("catalog: update may not change the channel's identity, source or deletion (%s)", old.ARN())
	}
	if ch.Name != old.Name {
		if err := c.checkChannelNameLocked(&ch); err != nil {
			return Channel{}, err
		}
	}
	if dests != nil {
		if err := c.checkDestinationsLocked(&ch, dests); err != nil {
			return Channel{}, err
		}
		if err := setDestinations(&ch, dests, head); err != nil {
			return Channel{}, err
		}
	}
	return c.putChannelLocked(ch, old)
}

// DeleteChannel deletes the live channel with this id: its ranges close
// at head() and it is kept, deleted, for the Lake.
func (c *Catalog) DeleteChannel(id string, head func() uint64) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	old, ok := c.channels[id]
	if !ok || old.Deleted() {
		return fmt.Errorf("%w: %s", ErrChannelNotFound, id)
	}
	ch := old.Clone()
	if err := setDestinations(&ch, nil, head); err != nil {
		return err
	}
	ch.DeletedAt = c.now().UTC()
	_, err := c.putChannelLocked(ch, old)
	return err
}

// checkDestinationsLocked fails with ErrDataStoreNotFound when a store
// dests names is not a store of ch's account that is live (not pending
// deletion): the API checks each destination first and words the error;
// this keeps a store being deleted meanwhile from becoming one.
func (c *Catalog) checkDestinationsLocked(ch *Channel, dests []string) error {
	for _, arn := range dests {
		p := strings.SplitN(arn, ":", 6)
		id, ok := "", len(p) == 6
		if ok {
			id, ok = strings.CutPrefix(p[5], "eventdatastore/")
		}
		d := c.stores[id]
		if !ok || d == nil || d.ARN() != arn || d.Account != ch.Account || d.Status == StatusPendingDeletion {
			return fmt.Errorf("channel %s: destination %s: %w", ch.Name, arn, ErrDataStoreNotFound)
		}
	}
	return nil
}

// channelsToLocked returns the ARNs of the live channels delivering to
// the store with this ARN.
func (c *Catalog) channelsToLocked(storeARN string) []string {
	var out []string
	for _, ch := range c.channels {
		if !ch.Deleted() && slices.Contains(ch.CurrentDestinations(), storeARN) {
			out = append(out, ch.ARN())
		}
	}
	slices.Sort(out)
	return out
}

// setDestinations makes dests (store ARNs) the current destinations of
// ch: a destination not current that is in dests opens a range at
// head()+1, a current one not in dests closes at head(). Ranges no event
// was appended in are dropped, and destinations left without ranges.
func setDestinations(ch *Channel, dests []string, head func() uint64) error {
	var h uint64
	if head != nil {
		h = head()
	} else if len(dests) > 0 || len(ch.CurrentDestinations()) > 0 {
		return fmt.Errorf("catalog: channel %s: the event log's head is needed to change its destinations", ch.ID)
	}
	for _, arn := range dests {
		i := slices.IndexFunc(ch.Destinations, func(d ChannelDestination) bool { return d.Location == arn })
		if i < 0 {
			ch.Destinations = append(ch.Destinations, ChannelDestination{Type: DestinationEventDataStore, Location: arn})
			i = len(ch.Destinations) - 1
		}
		d := &ch.Destinations[i]
		if !d.Current() {
			d.Ingest = append(d.Ingest, SeqRange{From: h + 1})
		}
	}
	kept := ch.Destinations[:0]
	for _, d := range ch.Destinations {
		if d.Current() && !slices.Contains(dests, d.Location) {
			last := &d.Ingest[len(d.Ingest)-1]
			if h < last.From {
				d.Ingest = d.Ingest[:len(d.Ingest)-1]
			} else {
				last.To = h
			}
		}
		if len(d.Ingest) > 0 {
			kept = append(kept, d)
		}
	}
	ch.Destinations = kept
	return nil
}

// checkChannelNameLocked fails when another live channel of ch's account
// and home region has ch's name.
func (c *Catalog) checkChannelNameLocked(ch *Channel) error {
	for _, o := range c.channels {
		if o.ID != ch.ID && o.Account == ch.Account && o.HomeRegion == ch.HomeRegion && o.Name == ch.Name && !o.Deleted() {
			return fmt.Errorf("%w: %s in %s", ErrChannelExists, ch.Name, ch.HomeRegion)
		}
	}
	return nil
}

// putChannelLocked stores ch (replacing old, nil for a new channel) and
// saves the file.
func (c *Catalog) putChannelLocked(ch Channel, old *Channel) (Channel, error) {
	c.gen++
	ch.Generation = c.gen
	ch, err := roundTrip(ch)
	if err != nil {
		return Channel{}, fmt.Errorf("catalog: channel %s: %w", ch.ID, err)
	}
	c.channels[ch.ID] = &ch
	if err := c.saveChannelsLocked(); err != nil {
		if old != nil {
			c.channels[ch.ID] = old
		} else {
			delete(c.channels, ch.ID)
		}
		return Channel{}, err
	}
	return ch.Clone(), nil
}

func (c *Catalog) saveChannelsLocked() error {
	f := channelsFile{Version: 1, Channels: make([]Channel, 0, len(c.channels))}
	for _, ch := range c.channels {
		f.Channels = append(f.Channels, *ch)
	}
	slices.SortFunc(f.Channels, func(a, b Channel) int { return strings.Compare(a.ID, b.ID) })
	b, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return fmt.Errorf("save channels: %w", err)
	}
	if err := fileutil.WriteFileAtomic(c.channelsPath, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("save channels: %w", err)
	}
	return nil
}
