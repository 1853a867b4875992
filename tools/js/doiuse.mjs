// doiuse-email over one HTML file: prints {"success", "errors", "notes"} as JSON.
// Usage: node tools/js/doiuse.mjs FILE.html [client-glob,...]
import { readFileSync } from 'node:fs';
import { doIUseEmail } from 'doiuse-email';

const [file, clients] = process.argv.slice(2);
const html = readFileSync(file, 'utf8');
const emailClients = (clients || 'gmail.*,outlook.*,apple-mail.*,yahoo.*,samsung-email.*').split(',');
process.stdout.write(JSON.stringify(doIUseEmail(html, { emailClients })));
