// Container names: docker's validation, generated `adjective_surname` names, and the registry
// that maps names to ids (one per engine; 409 with docker's exact text on conflicts).
import { randomInt } from 'node:crypto';
import { conflict, invalid } from '../common/errors.js';

/** docker's restrictions (daemon/names): `^/?[a-zA-Z0-9][a-zA-Z0-9_.-]+$`. */
export const NAME_PATTERN = /^\/?[a-zA-Z0-9][a-zA-Z0-9_.-]+$/;

/** `web` or `/web` → `/web`; invalid names → 400 with docker's message. */
export function normalizeName(name: string): string {
  if (!NAME_PATTERN.test(name)) throw invalid(`Invalid container name (${name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed`);
  return name.startsWith('/') ? name : `/${name}`;
}

const ADJECTIVES = [
  'admiring', 'affectionate', 'agitated', 'amazing', 'angry', 'awesome', 'beautiful', 'blissful', 'bold', 'boring',
  'brave', 'busy', 'charming', 'clever', 'compassionate', 'competent', 'condescending', 'confident', 'cool', 'cranky',
  'crazy', 'dazzling', 'determined', 'distracted', 'dreamy', 'eager', 'ecstatic', 'elastic', 'elated', 'elegant',
  'eloquent', 'epic', 'exciting', 'fervent', 'festive', 'flamboyant', 'focused', 'friendly', 'frosty', 'funny',
  'gallant', 'gifted', 'goofy', 'gracious', 'great', 'happy', 'hardcore', 'heuristic', 'hopeful', 'hungry',
  'infallible', 'inspiring', 'intelligent', 'interesting', 'jolly', 'jovial', 'keen', 'kind', 'laughing', 'loving',
  'lucid', 'magical', 'modest', 'musing', 'mystifying', 'naughty', 'nervous', 'nice', 'nifty', 'nostalgic',
  'objective', 'optimistic', 'peaceful', 'pedantic', 'pensive', 'practical', 'priceless', 'quirky', 'quizzical', 'recursing',
  'relaxed', 'reverent', 'romantic', 'sad', 'serene', 'sharp', 'silly', 'sleepy', 'stoic', 'strange',
  'stupefied', 'suspicious', 'sweet', 'tender', 'thirsty', 'trusting', 'unruffled', 'upbeat', 'vibrant', 'vigilant',
  'vigorous', 'wizardly', 'wonderful', 'xenodochial', 'youthful', 'zealous', 'zen',
];

const SURNAMES = [
  'agnesi', 'albattani', 'allen', 'almeida', 'archimedes', 'ardinghelli', 'aryabhata', 'austin', 'babbage', 'banach',
  'bardeen', 'bartik', 'bassi', 'bell', 'bhabha', 'bhaskara', 'blackwell', 'bohr', 'booth', 'borg',
  'bose', 'boyd', 'brahmagupta', 'brattain', 'brown', 'carson', 'cerf', 'chandrasekhar', 'chaplygin', 'clarke',
  'colden', 'cori', 'cray', 'curie', 'darwin', 'davinci', 'dijkstra', 'dubinsky', 'easley', 'edison',
  'einstein', 'elion', 'engelbart', 'euclid', 'euler', 'fermat', 'fermi', 'feynman', 'franklin', 'galileo',
  'gates', 'goldberg', 'goldstine', 'goldwasser', 'golick', 'goodall', 'haibt', 'hamilton', 'hawking', 'heisenberg',
  'hermann', 'hodgkin', 'hoover', 'hopper', 'hugle', 'hypatia', 'jackson', 'jang', 'jennings', 'jepsen',
  'johnson', 'joliot', 'jones', 'kalam', 'kare', 'keller', 'kepler', 'khorana', 'kilby', 'kirch',
  'knuth', 'kowalevski', 'lalande', 'lamarr', 'lamport', 'leakey', 'leavitt', 'lewin', 'lichterman', 'liskov',
  'lovelace', 'lumiere', 'mahavira', 'mayer', 'mccarthy', 'mcclintock', 'mclean', 'mcnulty', 'meitner', 'mendel',
  'merkle', 'mestorf', 'mirzakhani', 'moore', 'morse', 'murdock', 'napier', 'nash', 'neumann', 'newton',
  'nightingale', 'nobel', 'noether', 'northcutt', 'noyce', 'panini', 'pare', 'pasteur', 'payne', 'perlman',
  'pike', 'poincare', 'poitras', 'ptolemy', 'raman', 'ramanujan', 'ride', 'ritchie', 'roentgen', 'rosalind',
  'saha', 'sammet', 'shamir', 'shannon', 'shaw', 'shirley', 'shockley', 'sinoussi', 'snyder', 'spence',
  'stonebraker', 'swanson', 'swartz', 'swirles', 'tesla', 'thompson', 'torvalds', 'turing', 'varahamihira', 'visvesvaraya',
  'volhard', 'wescoff', 'wiles', 'williams', 'wilson', 'wing', 'wozniak', 'wright', 'yalow', 'yonath',
];

/** A random `adjective_surname`; after `retry` > 0 a digit is appended, like docker. */
export function randomName(retry = 0): string {
  let name = `${ADJECTIVES[randomInt(ADJECTIVES.length)]}_${SURNAMES[randomInt(SURNAMES.length)]}`;
  if (name === 'boring_wozniak') return randomName(retry); // docker's one exception
  if (retry > 0) name += String(randomInt(10));
  return name;
}

/** Name → id, with docker's conflict message. Names are stored with the leading slash. */
export class NameRegistry {
  private readonly byName = new Map<string, string>();

  reserve(name: string, id: string): void {
    const owner = this.byName.get(name);
    if (owner !== undefined && owner !== id) {
      throw conflict(`Conflict. The container name "${name}" is already in use by container "${owner}". You have to remove (or rename) that container to be able to reuse that name.`);
    }
    this.byName.set(name, id);
  }

  release(name: string, id?: string): void {
    if (id === undefined || this.byName.get(name) === id) this.byName.delete(name);
  }

  get(name: string): string | undefined {
    return this.byName.get(name.startsWith('/') ? name : `/${name}`);
  }

  has(name: string): boolean {
    return this.byName.has(name);
  }

  /** A fresh generated name that is not taken. */
  generate(id: string): string {
    for (let retry = 0; retry < 10; retry++) {
      const name = `/${randomName(retry)}`;
      if (!this.byName.has(name)) {
        this.byName.set(name, id);
        return name;
      }
    }
    const name = `/${id.slice(0, 12)}`;
    this.reserve(name, id);
    return name;
  }
}
