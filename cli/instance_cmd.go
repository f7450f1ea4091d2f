package cli

import (
	"strings"

	client "github.com/agent-vault/agent-vault/openapi/client/go"
)

type instanceCmd struct {
	Settings instanceSettingsCmd `cmd:"" help:"Show or change the instance's team settings (owners)."`
}

type instanceSettingsCmd struct {
	Get instanceSettingsGetCmd `cmd:"" default:"withargs" help:"Show who may invite, allowed email domains and sign-in lifetimes."`
	Set instanceSettingsSetCmd `cmd:"" help:"Change team settings; flags left out keep their value."`
}

type instanceSettingsGetCmd struct {
	authFlag
}

func (instanceSettingsGetCmd) Run(c *apiClient, out *printer) error {
	res, err := decode[client.InstanceSettingsBody](c.api.GetInstanceSettings(c.ctx))
	if err != nil {
		return err
	}
	return printInstanceSettings(out, res)
}

func printInstanceSettings(out *printer, res *client.InstanceSettingsBody) error {
	return out.result(res, func() {
		domains := strings.Join(deref(res.AllowedEmailDomains), ",")
		if domains == "" {
			domains = "any"
		}
		idle := seconds(res.IdleTimeoutSeconds)
		if res.IdleTimeoutSeconds == 0 {
			idle = "off"
		}
		out.table("", []string{"setting", "value"}, [][]string{
			{"invite-policy", string(res.InvitePolicy)},
			{"allowed-email-domains", domains},
			{"session-ttl", seconds(res.SessionTtlSeconds)},
			{"idle-timeout", idle},
		})
	})
}

type instanceSettingsSetCmd struct {
	authFlag
	InvitePolicy        string   `name:"invite-policy" enum:",owners,members" default:"" help:"Who may invite people: owners, or members too."`
	AllowedEmailDomains []string `name:"allowed-email-domains" sep:"," help:"Only addresses at these domains can be invited (comma-separated); 'any' allows every domain."`
	SessionTTL          string   `name:"session-ttl" placeholder:"DURATION" help:"How long a sign-in lasts (e.g. 12h, 7d; at least 5m)."`
	IdleTimeout         string   `name:"idle-timeout" placeholder:"DURATION" help:"End a sign-in unused this long (e.g. 30m); 0 turns it off."`
}

func (s *instanceSettingsSetCmd) Run(c *apiClient, out *printer) error {
	var body client.UpdateInstanceSettingsJSONRequestBody
	changed := false
	if s.InvitePolicy != "" {
		p := client.UpdateInstanceSettingsInputBodyInvitePolicy(s.InvitePolicy)
		body.InvitePolicy, changed = &p, true
	}
	if s.AllowedEmailDomains != nil {
		d := []string{}
		for _, v := range s.AllowedEmailDomains {
			if v != "any" && v != "" {
				d = append(d, v)
			}
		}
		body.AllowedEmailDomains, changed = &d, true
	}
	if s.SessionTTL != "" {
		n, err := durationSeconds("session-ttl", s.SessionTTL)
		if err != nil {
			return err
		}
		v := int64(n)
		body.SessionTtlSeconds, changed = &v, true
	}
	if s.IdleTimeout != "" {
		n, err := durationSeconds("idle-timeout", s.IdleTimeout)
		if err != nil {
			return err
		}
		v := int64(n)
		body.IdleTimeoutSeconds, changed = &v, true
	}
	if !changed {
		return usageErrorf("nothing to change: pass --invite-policy, --allowed-email-domains, --session-ttl or --idle-timeout")
	}
	res, err := decode[client.InstanceSettingsBody](c.api.UpdateInstanceSettings(c.ctx, body))
	if err != nil {
		return err
	}
	return printInstanceSettings(out, res)
}
