/**
 * The process {@link makeServingPki} starts: reads its request on stdin,
 * makes what it asks for with the X.509 library, writes it on stdout.
 */
import { text } from 'node:stream/consumers';
import { makeHere } from './in-child.js';
import type { ServingPkiRequest } from './in-child.js';

process.stdout.write(JSON.stringify(await makeHere(JSON.parse(await text(process.stdin)) as ServingPkiRequest)));
