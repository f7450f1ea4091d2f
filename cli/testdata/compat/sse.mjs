// The matrix's server-sent events client: eventsource over Node.js fetch,
// which follows HTTPS_PROXY with NODE_USE_ENV_PROXY=1 (set by agent-vault run).
import { EventSource } from 'eventsource';

const es = new EventSource(process.argv[2]);
es.onmessage = (e) => {
  process.stdout.write(e.data + '\n');
  es.close();
};
es.onerror = (e) => {
  console.error('event stream failed:', e.message ?? e.code);
  es.close();
  process.exit(1);
};
