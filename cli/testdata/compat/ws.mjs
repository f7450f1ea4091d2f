// The matrix's websocket client: ws through a CONNECT tunnel.
import WebSocket from 'ws';
import { HttpsProxyAgent } from 'https-proxy-agent';

const ws = new WebSocket(process.argv[2], { agent: new HttpsProxyAgent(process.env.HTTPS_PROXY) });
ws.on('open', () => ws.send('hello'));
ws.on('message', (m) => {
  process.stdout.write(m.toString() + '\n');
  ws.close();
});
ws.on('error', (e) => {
  console.error(e.message);
  process.exit(1);
});
