// Package mail sends plain-text email through an SMTP relay: the one
// outgoing-mail path of the host (proposal notifications, password-reset
// links). It is configured from AGENT_VAULT_SMTP_* and speaks SMTP with
// net/smtp: implicit TLS (port 465), STARTTLS (required, never
// opportunistic: a server that does not offer it is an error) or, for a
// relay on the same host, none. Credentials are only ever sent over TLS or
// to a loopback relay (net/smtp's PLAIN auth refuses anything else).
package mail

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"net/smtp"
	"strconv"
	"strings"
	"time"

	"github.com/agent-vault/agent-vault/host/domain"
)

// TLS modes of the connection to the relay.
const (
	TLSNone     = "none"     // plain SMTP (a relay on loopback)
	TLSStartTLS = "starttls" // plain connect, then STARTTLS (required)
	TLSImplicit = "tls"      // TLS from the first byte (SMTPS, port 465)
)

// Config says how to reach the relay.
type Config struct {
	Host     string
	Port     int
	TLS      string // TLSNone, TLSStartTLS or TLSImplicit
	User     string // empty: no AUTH
	Password string
	From     string // envelope and header sender: "Agent Vault <vault@example.com>"
	// TLSConfig overrides the TLS settings (tests trust their own CA);
	// nil means the system roots and ServerName Host.
	TLSConfig *tls.Config
	// Timeout bounds one whole send (default 30s).
	Timeout time.Duration
}

// FromEnv reads AGENT_VAULT_SMTP_HOST, _PORT, _TLS, _USER, _PASSWORD and
// _FROM. Without a host, mail is off: it returns nil and no error.
// Defaults: TLS starttls; port 587 (465 for tls, 25 for none).
func FromEnv(getenv func(string) string) (*Config, error) {
	host := getenv("AGENT_VAULT_SMTP_HOST")
	if host == "" {
		return nil, nil
	}
	c := &Config{Host: host, TLS: getenv("AGENT_VAULT_SMTP_TLS"), User: getenv("AGENT_VAULT_SMTP_USER"),
		Password: getenv("AGENT_VAULT_SMTP_PASSWORD"), From: getenv("AGENT_VAULT_SMTP_FROM")}
	if c.TLS == "" {
		c.TLS = TLSStartTLS
	}
	if p := getenv("AGENT_VAULT_SMTP_PORT"); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return nil, domain.Errorf(domain.CodeInvalidInput, "AGENT_VAULT_SMTP_PORT %q is not a port number", p)
		}
		c.Port = n
	}
	return c, c.check()
}

func (c *Config) check() error {
	switch c.TLS {
	case TLSNone, TLSStartTLS, TLSImplicit:
	default:
		return domain.Errorf(domain.CodeInvalidInput, "AGENT_VAULT_SMTP_TLS %q must be none, starttls or tls", c.TLS)
	}
	if c.Port == 0 {
		c.Port = map[string]int{TLSNone: 25, TLSStartTLS: 587, TLSImplicit: 465}[c.TLS]
	}
	if c.From == "" {
		return domain.Errorf(domain.CodeInvalidInput, "AGENT_VAULT_SMTP_FROM is required with AGENT_VAULT_SMTP_HOST (the sender address)")
	}
	if _, err := mail.ParseAddress(c.From); err != nil {
		return domain.Errorf(domain.CodeInvalidInput, "AGENT_VAULT_SMTP_FROM %q is not an email address: %v", c.From, err)
	}
	if (c.User == "") != (c.Password == "") {
		return domain.Errorf(domain.CodeInvalidInput, "AGENT_VAULT_SMTP_USER and AGENT_VAULT_SMTP_PASSWORD go together")
	}
	return nil
}

// Message is one plain-text email.
type Message struct {
	To      []string
	Subject string
	Text    string
}

// Sender sends messages through one relay; safe for concurrent use.
type Sender struct {
	cfg Config
}

// New checks cfg and returns a Sender.
func New(cfg Config) (*Sender, error) {
	if err := cfg.check(); err != nil {
		return nil, err
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 30 * time.Second
	}
	return &Sender{cfg: cfg}, nil
}

// Send delivers m over a new connection. The error says which SMTP step
// failed; it never contains the password.
func (s *Sender) Send(ctx context.Context, m Message) error {
	if len(m.To) == 0 {
		return errors.New("mail: no recipients")
	}
	from, err := mail.ParseAddress(s.cfg.From)
	if err != nil {
		return err
	}
	var to []string
	for _, addr := range m.To {
		a, err := mail.ParseAddress(addr)
		if err != nil {
			return fmt.Errorf("mail: recipient %q: %w", addr, err)
		}
		to = append(to, a.Address)
	}
	body, err := compose(s.cfg.From, to, m.Subject, m.Text, time.Now())
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	conn, err := s.dial(ctx)
	if err != nil {
		return err
	}
	if dl, ok := ctx.Deadline(); ok {
		conn.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	c, err := smtp.NewClient(conn, s.cfg.Host)
	if err != nil {
		conn.Close()
		return fmt.Errorf("mail: greeting from %s: %w", s.addr(), err)
	}
	defer c.Close()
	if err := c.Hello(helloName()); err != nil {
		return fmt.Errorf("mail: EHLO: %w", err)
	}
	if s.cfg.TLS == TLSStartTLS {
		if ok, _ := c.Extension("STARTTLS"); !ok {
			return fmt.Errorf("mail: %s does not offer STARTTLS (AGENT_VAULT_SMTP_TLS=starttls)", s.addr())
		}
		if err := c.StartTLS(s.tlsConfig()); err != nil {
			return fmt.Errorf("mail: STARTTLS: %w", err)
		}
	}
	if s.cfg.User != "" {
		if err := c.Auth(smtp.PlainAuth("", s.cfg.User, s.cfg.Password, s.cfg.Host)); err != nil {
			return fmt.Errorf("mail: AUTH as %s: %w", s.cfg.User, err)
		}
	}
	if err := c.Mail(from.Address); err != nil {
		return fmt.Errorf("mail: MAIL FROM: %w", err)
	}
	for _, rcpt := range to {
		if err := c.Rcpt(rcpt); err != nil {
			return fmt.Errorf("mail: RCPT TO %s: %w", rcpt, err)
		}
	}
	w, err := c.Data()
	if err != nil {
		return fmt.Errorf("mail: DATA: %w", err)
	}
	if _, err := w.Write(body); err != nil {
		return fmt.Errorf("mail: writing the message: %w", err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("mail: the relay refused the message: %w", err)
	}
	return c.Quit()
}

func (s *Sender) addr() string { return net.JoinHostPort(s.cfg.Host, strconv.Itoa(s.cfg.Port)) }

func (s *Sender) tlsConfig() *tls.Config {
	if s.cfg.TLSConfig != nil {
		return s.cfg.TLSConfig.Clone()
	}
	return &tls.Config{ServerName: s.cfg.Host, MinVersion: tls.VersionTLS12}
}

func (s *Sender) dial(ctx context.Context) (net.Conn, error) {
	d := &net.Dialer{}
	if s.cfg.TLS == TLSImplicit {
		td := &tls.Dialer{NetDialer: d, Config: s.tlsConfig()}
		conn, err := td.DialContext(ctx, "tcp", s.addr())
		if err != nil {
			return nil, fmt.Errorf("mail: connecting to %s with TLS: %w", s.addr(), err)
		}
		return conn, nil
	}
	conn, err := d.DialContext(ctx, "tcp", s.addr())
	if err != nil {
		return nil, fmt.Errorf("mail: connecting to %s: %w", s.addr(), err)
	}
	return conn, nil
}

func helloName() string {
	return "agent-vault.localhost"
}

// compose renders the message: headers (the subject encoded when it is not
// ASCII), then the text as quoted-printable UTF-8 with CRLF lines.
func compose(from string, to []string, subject, text string, now time.Time) ([]byte, error) {
	if strings.ContainsAny(subject, "\r\n") {
		return nil, errors.New("mail: the subject has a line break")
	}
	id := make([]byte, 12)
	rand.Read(id)
	domainPart := "agent-vault.localhost"
	if a, err := mail.ParseAddress(from); err == nil {
		if at := strings.LastIndexByte(a.Address, '@'); at >= 0 {
			domainPart = a.Address[at+1:]
		}
	}
	var b bytes.Buffer
	header := func(k, v string) { b.WriteString(k + ": " + v + "\r\n") }
	header("From", from)
	header("To", strings.Join(to, ", "))
	header("Subject", mime.QEncoding.Encode("utf-8", subject))
	header("Date", now.Format(time.RFC1123Z))
	header("Message-ID", "<"+hex.EncodeToString(id)+"@"+domainPart+">")
	header("MIME-Version", "1.0")
	header("Content-Type", `text/plain; charset="utf-8"`)
	header("Content-Transfer-Encoding", "quoted-printable")
	b.WriteString("\r\n")
	qp := quotedprintable.NewWriter(&b)
	text = strings.ReplaceAll(strings.ReplaceAll(text, "\r\n", "\n"), "\n", "\r\n")
	if _, err := qp.Write([]byte(text)); err != nil {
		return nil, err
	}
	if err := qp.Close(); err != nil {
		return nil, err
	}
	b.WriteString("\r\n")
	return b.Bytes(), nil
}
