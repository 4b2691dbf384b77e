/** test/chain/close.test.ts on anvil, with interval mining (test/helpers/on-anvil.ts). */
import '../../helpers/on-anvil.ts';
import '../close.test.ts';
