// Package notify tells people about events that wait for them: today, a
// proposal an agent filed, sent to the vault's admins by email (through
// host/mail, when SMTP is configured) and to an outgoing webhook (JSON, or
// Slack's incoming-webhook format). Every message links straight to the
// proposal's review page.
//
// Sending never blocks the request that caused it: Proposal only queues
// (bounded; a full queue drops and logs), and one goroutine delivers,
// retrying transient failures with backoff. A notification carries names
// (vault, agent, services, hosts, credential keys) and the agent's own
// message, never a credential value.
package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/textproto"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/agent-vault/agent-vault/host/domain"
	"github.com/agent-vault/agent-vault/host/mail"
)

// Webhook formats.
const (
	FormatJSON  = "json"  // the Event as JSON
	FormatSlack = "slack" // {"text": …} for a Slack (or compatible) incoming webhook
)

// Config says where notifications go; an empty Config sends nothing.
type Config struct {
	// Mail sends email to the vault's admins; nil means no email.
	Mail *mail.Sender
	// WebhookURL receives every notification; empty means none.
	WebhookURL    string
	WebhookFormat string // FormatJSON (default) or FormatSlack
	// Client posts webhooks; nil means a client with a 10s timeout.
	Client *http.Client
	// Attempts per delivery (default 5) and the first retry delay
	// (default 2s, doubling, at most a minute).
	Attempts int
	Backoff  time.Duration
	// Queue bounds waiting notifications (default 256).
	Queue  int
	Logger *slog.Logger
}

// FromEnv reads AGENT_VAULT_SMTP_* (host/mail) and
// AGENT_VAULT_NOTIFY_WEBHOOK_URL and _FORMAT.
func FromEnv(getenv func(string) string) (Config, error) {
	var c Config
	mc, err := mail.FromEnv(getenv)
	if err != nil {
		return c, err
	}
	if mc != nil {
		if c.Mail, err = mail.New(*mc); err != nil {
			return c, err
		}
	}
	c.WebhookURL = getenv("AGENT_VAULT_NOTIFY_WEBHOOK_URL")
	c.WebhookFormat = getenv("AGENT_VAULT_NOTIFY_WEBHOOK_FORMAT")
	return c, c.check()
}

func (c *Config) check() error {
	if c.WebhookFormat == "" {
		c.WebhookFormat = FormatJSON
	}
	if c.WebhookFormat != FormatJSON && c.WebhookFormat != FormatSlack {
		return domain.Errorf(domain.CodeInvalidInput, "AGENT_VAULT_NOTIFY_WEBHOOK_FORMAT %q must be json or slack", c.WebhookFormat)
	}
	if c.WebhookURL != "" {
		u, err := url.Parse(c.WebhookURL)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return domain.Errorf(domain.CodeInvalidInput, "AGENT_VAULT_NOTIFY_WEBHOOK_URL must be an http(s) URL")
		}
	}
	return nil
}

// Event is a proposal waiting for review: what the JSON webhook receives.
type Event struct {
	Type       string    `json:"type"` // "proposal.created"
	Vault      string    `json:"vault"`
	ProposalID string    `json:"proposal_id"`
	ReviewURL  string    `json:"review_url"`
	Actor      Actor     `json:"actor"`
	Message    string    `json:"message"`
	Services   []Service `json:"services"`
	// Credentials are key names (set or delete), never values.
	Credentials []Credential `json:"credentials"`
	CreatedAt   time.Time    `json:"created_at"`
	// Admins are the emails the event is mailed to (not sent to webhooks).
	Admins []string `json:"-"`
}

// Actor is who filed the proposal.
type Actor struct {
	Kind string `json:"kind"` // agent, user or session
	Name string `json:"name"`
}

// Service is a proposed service change.
type Service struct {
	Action string `json:"action"` // set or delete
	Name   string `json:"name"`
	Host   string `json:"host,omitempty"`
}

// Credential is a proposed credential slot.
type Credential struct {
	Action string `json:"action"`
	Key    string `json:"key"`
}

// TypeProposalCreated is the Type of a new proposal.
const TypeProposalCreated = "proposal.created"

// Notifier delivers events in the background. Create it with New.
type Notifier struct {
	cfg     Config
	queue   chan Event
	stop    chan struct{}
	done    chan struct{}
	once    sync.Once
	dropped atomic.Uint64
	sent    atomic.Uint64
	failed  atomic.Uint64
}

// New starts a Notifier; with nothing configured it still accepts (and
// discards) events.
func New(cfg Config) (*Notifier, error) {
	if err := cfg.check(); err != nil {
		return nil, err
	}
	if cfg.Client == nil {
		cfg.Client = &http.Client{Timeout: 10 * time.Second}
	}
	if cfg.Attempts <= 0 {
		cfg.Attempts = 5
	}
	if cfg.Backoff <= 0 {
		cfg.Backoff = 2 * time.Second
	}
	if cfg.Queue <= 0 {
		cfg.Queue = 256
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	n := &Notifier{cfg: cfg, queue: make(chan Event, cfg.Queue), stop: make(chan struct{}), done: make(chan struct{})}
	go n.run()
	return n, nil
}

// Enabled reports whether anything is configured to receive events.
func (n *Notifier) Enabled() bool { return n != nil && (n.cfg.Mail != nil || n.cfg.WebhookURL != "") }

// Proposal queues e for delivery and returns at once.
func (n *Notifier) Proposal(e Event) {
	if !n.Enabled() {
		return
	}
	e.Type = TypeProposalCreated
	select {
	case <-n.stop:
		n.dropped.Add(1)
		return
	default:
	}
	select {
	case n.queue <- e:
	default:
		n.dropped.Add(1)
		n.cfg.Logger.Warn("notification queue full: a proposal notification was dropped", "vault", e.Vault, "proposal", e.ProposalID)
	}
}

// Stats counts deliveries (per channel: an email and a webhook are two).
func (n *Notifier) Stats() (sent, failed, dropped uint64) {
	return n.sent.Load(), n.failed.Load(), n.dropped.Load()
}

// Close stops taking events, tries what is queued once more within a few
// seconds, and returns.
func (n *Notifier) Close() {
	n.once.Do(func() { close(n.stop) })
	<-n.done
}

func (n *Notifier) run() {
	defer close(n.done)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// After Close, what is still queued gets a few seconds, not a
	// minute of retries.
	go func() {
		select {
		case <-n.stop:
		case <-ctx.Done():
			return
		}
		select {
		case <-time.After(5 * time.Second):
			cancel()
		case <-ctx.Done():
		}
	}()
	for {
		select {
		case e := <-n.queue:
			n.deliver(ctx, e)
		case <-n.stop:
			for {
				select {
				case e := <-n.queue:
					n.deliver(ctx, e)
				default:
					return
				}
			}
		}
	}
}

// deliver sends e by email and webhook, each retried on its own.
func (n *Notifier) deliver(ctx context.Context, e Event) {
	var wg sync.WaitGroup
	if n.cfg.Mail != nil && len(e.Admins) > 0 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			msg := mail.Message{To: e.Admins, Subject: Subject(e), Text: Text(e)}
			n.retry(ctx, "email", e, func(ctx context.Context) (bool, error) {
				err := n.cfg.Mail.Send(ctx, msg)
				return retryableMail(err), err
			})
		}()
	}
	if n.cfg.WebhookURL != "" {
		wg.Add(1)
		go func() {
			defer wg.Done()
			n.retry(ctx, "webhook", e, func(ctx context.Context) (bool, error) { return n.post(ctx, e) })
		}()
	}
	wg.Wait()
}

// retry calls send until it succeeds, says the failure is permanent, or
// the attempts run out, waiting Backoff, 2×Backoff, … (at most a minute).
func (n *Notifier) retry(ctx context.Context, channel string, e Event, send func(context.Context) (retryable bool, err error)) {
	wait := n.cfg.Backoff
	for attempt := 1; ; attempt++ {
		retryable, err := send(ctx)
		if err == nil {
			n.sent.Add(1)
			return
		}
		if !retryable || attempt >= n.cfg.Attempts || ctx.Err() != nil {
			n.failed.Add(1)
			n.cfg.Logger.Error("proposal notification failed", "channel", channel, "vault", e.Vault, "proposal", e.ProposalID, "attempts", attempt, "err", err)
			return
		}
		n.cfg.Logger.Warn("proposal notification failed; retrying", "channel", channel, "vault", e.Vault, "proposal", e.ProposalID, "attempt", attempt, "in", wait, "err", err)
		select {
		case <-time.After(wait):
		case <-ctx.Done():
		}
		wait = min(2*wait, time.Minute)
	}
}

// post sends e to the webhook; 5xx, 429 and transport errors are
// retryable, other statuses are not.
func (n *Notifier) post(ctx context.Context, e Event) (bool, error) {
	body, err := WebhookBody(e, n.cfg.WebhookFormat)
	if err != nil {
		return false, err
	}
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, n.cfg.WebhookURL, bytes.NewReader(body))
	if err != nil {
		return false, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "agent-vault-notify")
	res, err := n.cfg.Client.Do(req)
	if err != nil {
		return true, redactURL(err, n.cfg.WebhookURL)
	}
	io.Copy(io.Discard, io.LimitReader(res.Body, 64<<10))
	res.Body.Close()
	switch {
	case res.StatusCode >= 200 && res.StatusCode < 300:
		return false, nil
	case res.StatusCode == http.StatusTooManyRequests || res.StatusCode >= 500:
		return true, fmt.Errorf("webhook answered %s", res.Status)
	default:
		return false, fmt.Errorf("webhook answered %s", res.Status)
	}
}

// retryableMail: an SMTP 5xx answer is permanent (a refused recipient or
// sender); 4xx answers and connection failures are worth another try.
func retryableMail(err error) bool {
	var te *textproto.Error
	if errors.As(err, &te) {
		return te.Code < 500
	}
	return true
}

// redactURL keeps a webhook URL's secret path (Slack's carries its
// token) out of logged errors.
func redactURL(err error, raw string) error {
	u, perr := url.Parse(raw)
	if perr != nil {
		return fmt.Errorf("posting the webhook failed")
	}
	return fmt.Errorf("%s", strings.ReplaceAll(err.Error(), raw, u.Scheme+"://"+u.Host+"/…"))
}

// Subject is the email subject of e.
func Subject(e Event) string {
	return fmt.Sprintf("[Agent Vault] %s %s proposes changes to vault %s", e.Actor.Kind, oneLine(e.Actor.Name, 64), e.Vault)
}

// Text is the plain-text body of e (email).
func Text(e Event) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s filed a proposal for vault %s.\n\n", e.Actor.Kind, oneLine(e.Actor.Name, 64), e.Vault)
	fmt.Fprintf(&b, "Review it: %s\n\n", e.ReviewURL)
	if e.Message != "" {
		fmt.Fprintf(&b, "Its message (written by the %s, not by Agent Vault):\n  %s\n\n", e.Actor.Kind, oneLine(e.Message, 500))
	}
	if len(e.Services) > 0 {
		b.WriteString("Services:\n")
		for _, s := range e.Services {
			fmt.Fprintf(&b, "  %s %s %s\n", s.Action, s.Name, s.Host)
		}
	}
	if len(e.Credentials) > 0 {
		b.WriteString("Credentials (key names; values are never sent):\n")
		for _, c := range e.Credentials {
			fmt.Fprintf(&b, "  %s %s\n", c.Action, c.Key)
		}
	}
	b.WriteString("\nNothing changes until someone approves it.\n")
	return b.String()
}

// WebhookBody is what the webhook receives for e in format.
func WebhookBody(e Event, format string) ([]byte, error) {
	if format != FormatSlack {
		return json.Marshal(e)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s *%s* filed a proposal for vault *%s*: <%s|review it>",
		e.Actor.Kind, slackEscape(oneLine(e.Actor.Name, 64)), slackEscape(e.Vault), slackEscape(e.ReviewURL))
	if e.Message != "" {
		fmt.Fprintf(&b, "\n> %s", slackEscape(oneLine(e.Message, 500)))
	}
	for _, s := range e.Services {
		fmt.Fprintf(&b, "\n• service %s `%s` %s", s.Action, slackEscape(s.Name), slackEscape(s.Host))
	}
	for _, c := range e.Credentials {
		fmt.Fprintf(&b, "\n• credential %s `%s`", c.Action, slackEscape(c.Key))
	}
	return json.Marshal(map[string]any{"text": b.String(), "unfurl_links": false})
}

// slackEscape keeps text that others wrote from becoming Slack markup
// (links, @channel mentions): Slack reads &, < and > as control characters.
func slackEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

// oneLine flattens control characters to spaces and cuts s to max runes.
func oneLine(s string, max int) string {
	r := []rune(strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s))
	if len(r) > max {
		return string(r[:max]) + "…"
	}
	return string(r)
}
