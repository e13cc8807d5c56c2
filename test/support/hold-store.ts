// A second process on a local store directory (directory-lock tests): opens the store on argv[2]
// with a first call, says "ready" on stdout, then exits when its stdin closes ("exit") or stays
// until killed.
import { LocalFileStore } from '../../shared/store/local-file-store.js';

const store = new LocalFileStore(process.argv[2]!);
await store.listSecrets({ labels: {} });
process.stdout.write('ready\n');
process.stdin.resume();
process.stdin.on('end', () => process.exit(0));
