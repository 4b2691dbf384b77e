/** test/chain/tokens.test.ts on anvil, with interval mining (test/helpers/on-anvil.ts). */
import '../../helpers/on-anvil.ts';
import '../tokens.test.ts';
