/** test/chain/vectors.test.ts on anvil, with interval mining (test/helpers/on-anvil.ts). */
import '../../helpers/on-anvil.ts';
import '../vectors.test.ts';
