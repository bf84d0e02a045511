/**
 * The 3-D view (three.js): peers as one instanced mesh, links as one batch of line segments, the selected
 * pain's route as instanced cylinders with arrow heads (direction of each hop), hop-order labels, and
 * markers for the source (green) and the target (red). Draw calls stay constant whatever the peer count.
 */
import * as THREE from 'three';
import { OrbitControls } from 'three/addons/controls/OrbitControls.js';
import type { PainSnapshot } from '../src/vision/snapshot.js';
import type { Layout } from './model.js';

/** Colours of the route's attempts (one per transaction), in order. */
export const attemptColours = ['#ff4d4d', '#ffa22e', '#ffe14d', '#5cff8a', '#4dc3ff', '#c77dff', '#ff7ac8'];

/** Hop-order labels drawn at most. */
export const hopLabelsMax = 64;

const peerRadius = 0.12;
/** Above this many peers they are drawn as points (the instanced mesh stays for picking). */
export const pointsAbove = 3000;
/** The same with software rendering, where instanced meshes cost per vertex and pixel on the CPU. */
export const pointsAboveSoftware = 500;
/** With software rendering, more links than this are left out of frames while the camera moves. */
export const linksWhileMovingMax = 3000;
const up = new THREE.Vector3(0, 1, 0);

/**
 * Peers drawn as points: a fixed size in pixels and a colour per vertex, nothing else. Three's
 * PointsMaterial carries more per vertex and per fragment than this needs; on a software rasterizer that
 * is most of a large network's frame.
 */
function pointsMaterial(): THREE.ShaderMaterial {
  return new THREE.ShaderMaterial({
    vertexShader: `
      attribute vec3 color;
      varying vec3 vColor;
      void main() {
        vColor = color;
        gl_Position = projectionMatrix * modelViewMatrix * vec4(position, 1.0);
        gl_PointSize = 3.0;
      }`,
    fragmentShader: `
      varying vec3 vColor;
      void main() { gl_FragColor = vec4(vColor, 1.0); }`,
  });
}

/** The unmasked renderer name says it rasterizes in software. */
export function isSoftwareRenderer(gl: WebGLRenderingContext | WebGL2RenderingContext): boolean {
  const info = gl.getExtension('WEBGL_debug_renderer_info');
  const name = String(gl.getParameter(info === null ? gl.RENDERER : info.UNMASKED_RENDERER_WEBGL));
  return /swiftshader|llvmpipe|softpipe|software|basic render/i.test(name);
}

export class VisionScene {
  readonly renderer: THREE.WebGLRenderer;
  readonly camera: THREE.PerspectiveCamera;
  readonly controls: OrbitControls;
  private readonly scene = new THREE.Scene();
  private readonly container: HTMLElement;
  private readonly labels: HTMLElement;
  private peers: THREE.InstancedMesh | undefined;
  private points: THREE.Points | undefined;
  private links: THREE.LineSegments | undefined;
  /** Software rendering and many links: they are left out of frames while the camera moves (see `frame`). */
  private large = false;
  private lastView = new THREE.Matrix4();
  private stillSince = 0;
  /**
   * The WebGL context runs on a software rasterizer (SwiftShader, llvmpipe): then large networks draw a
   * sample of their links, and none while the camera moves. With a GPU every link is drawn, always.
   */
  readonly softwareRendering: boolean;
  /** Show links while the camera moves, even in a large network. */
  linksWhileMoving = false;
  private readonly routeGroup = new THREE.Group();
  private readonly highlight: THREE.Mesh;
  private positions: Float32Array = new Float32Array(0);
  private labelItems: { el: HTMLElement; at: THREE.Vector3; shown: boolean }[] = [];
  private readonly labelScratch = new THREE.Vector3();
  private viewWidth = 1;
  private viewHeight = 1;
  private focusAnim:
    | { from: THREE.Vector3; to: THREE.Vector3; camFrom: THREE.Vector3; camTo: THREE.Vector3; t0: number }
    | undefined;
  private readonly raycaster = new THREE.Raycaster();
  private linksVisible = true;
  /** Frames rendered so far. */
  frames = 0;
  /** Route segments drawn (hop decisions with a chosen next hop in the snapshot). */
  routeSegments = 0;

  constructor(container: HTMLElement) {
    this.container = container;
    this.renderer = new THREE.WebGLRenderer({ antialias: false });
    this.renderer.setPixelRatio(Math.min(2, window.devicePixelRatio));
    this.renderer.setClearColor(0x0b0e14);
    this.softwareRendering = isSoftwareRenderer(this.renderer.getContext());
    container.appendChild(this.renderer.domElement);
    this.labels = document.createElement('div');
    this.labels.className = 'labels';
    container.appendChild(this.labels);
    this.camera = new THREE.PerspectiveCamera(50, 1, 0.05, 500);
    this.camera.position.set(0, 6, 26);
    this.controls = new OrbitControls(this.camera, this.renderer.domElement);
    this.controls.enableDamping = true;
    this.controls.dampingFactor = 0.12;
    this.scene.add(new THREE.AmbientLight(0xffffff, 1.6));
    const sun = new THREE.DirectionalLight(0xffffff, 1.4);
    sun.position.set(5, 10, 7);
    this.scene.add(sun);
    this.scene.add(this.routeGroup);
    this.highlight = new THREE.Mesh(
      new THREE.SphereGeometry(peerRadius * 3, 16, 12),
      new THREE.MeshBasicMaterial({ color: 0xffffff, wireframe: true }),
    );
    this.highlight.visible = false;
    this.scene.add(this.highlight);
    new ResizeObserver(() => this.resize()).observe(container);
    this.resize();
    this.renderer.setAnimationLoop(() => this.frame());
  }

  private resize(): void {
    const w = Math.max(1, this.container.clientWidth);
    const h = Math.max(1, this.container.clientHeight);
    this.viewWidth = w;
    this.viewHeight = h;
    this.renderer.setSize(w, h);
    this.camera.aspect = w / h;
    this.camera.updateProjectionMatrix();
  }

  private frame(): void {
    const a = this.focusAnim;
    if (a !== undefined) {
      const t = Math.min(1, (performance.now() - a.t0) / 600);
      const e = t * t * (3 - 2 * t);
      this.controls.target.lerpVectors(a.from, a.to, e);
      this.camera.position.lerpVectors(a.camFrom, a.camTo, e);
      if (t >= 1) this.focusAnim = undefined;
    }
    this.controls.update();
    if (this.large && this.links !== undefined && this.linksVisible) {
      // Software renderers pay per line vertex: while the camera moves, a large network is drawn without
      // its links (peers and the route stay); they return once it has been still for 150 ms.
      const now = performance.now();
      if (!this.lastView.equals(this.camera.matrixWorld)) {
        this.lastView.copy(this.camera.matrixWorld);
        this.stillSince = now;
      }
      this.links.visible = this.linksWhileMoving || now - this.stillSince > 150;
    }
    this.renderer.render(this.scene, this.camera);
    this.placeLabels();
    this.frames++;
  }

  /** Shows a snapshot's peers and links; `colours` is rgb per peer (0..1). */
  setNetwork(layout: Layout, colours: Float32Array, scales: Float32Array): void {
    this.clearNetwork();
    const n = layout.positions.length / 3;
    this.positions = layout.positions;
    const asPoints = n > (this.softwareRendering ? pointsAboveSoftware : pointsAbove);
    if (asPoints) {
      // Large networks: one Points draw (a few pixels a peer) instead of meshes.
      const g = new THREE.BufferGeometry();
      g.setAttribute('position', new THREE.BufferAttribute(layout.positions, 3));
      g.setAttribute('color', new THREE.BufferAttribute(colours, 3));
      g.computeBoundingSphere();
      this.points = new THREE.Points(g, pointsMaterial());
      this.scene.add(this.points);
    }
    const geometry = new THREE.IcosahedronGeometry(peerRadius, 0);
    const material = new THREE.MeshLambertMaterial({ color: 0xffffff });
    const mesh = new THREE.InstancedMesh(geometry, material, Math.max(1, n));
    mesh.visible = !asPoints;
    mesh.count = n;
    const m = new THREE.Matrix4();
    const c = new THREE.Color();
    for (let i = 0; i < n; i++) {
      const s = scales[i] ?? 1;
      m.makeScale(s, s, s).setPosition(
        layout.positions[3 * i]!,
        layout.positions[3 * i + 1]!,
        layout.positions[3 * i + 2]!,
      );
      mesh.setMatrixAt(i, m);
      mesh.setColorAt(i, c.setRGB(colours[3 * i]!, colours[3 * i + 1]!, colours[3 * i + 2]!));
    }
    mesh.instanceMatrix.needsUpdate = true;
    if (mesh.instanceColor !== null) mesh.instanceColor.needsUpdate = true;
    mesh.computeBoundingSphere();
    this.peers = mesh;
    this.scene.add(mesh);
    const lp = new Float32Array(layout.links.length * 3);
    for (let l = 0; l < layout.links.length; l++) {
      const i = layout.links[l]!;
      lp[3 * l] = layout.positions[3 * i]!;
      lp[3 * l + 1] = layout.positions[3 * i + 1]!;
      lp[3 * l + 2] = layout.positions[3 * i + 2]!;
    }
    const lg = new THREE.BufferGeometry();
    lg.setAttribute('position', new THREE.BufferAttribute(lp, 3));
    this.links = new THREE.LineSegments(
      lg,
      new THREE.LineBasicMaterial({ color: asPoints ? 0x2c3754 : 0x3a4560 }),
    );
    this.large = this.softwareRendering && (asPoints || layout.links.length / 2 > linksWhileMovingMax);
    this.scene.add(this.links);
  }

  /** Recolours the peers (rgb per peer). */
  setColours(colours: Float32Array): void {
    const mesh = this.peers;
    if (mesh === undefined) return;
    const c = new THREE.Color();
    for (let i = 0; i < mesh.count; i++)
      mesh.setColorAt(i, c.setRGB(colours[3 * i]!, colours[3 * i + 1]!, colours[3 * i + 2]!));
    if (mesh.instanceColor !== null) mesh.instanceColor.needsUpdate = true;
    const pc = this.points?.geometry.getAttribute('color');
    if (pc !== undefined) {
      (pc.array as Float32Array).set(colours);
      pc.needsUpdate = true;
    }
  }

  private clearNetwork(): void {
    for (const o of [this.peers, this.links, this.points]) {
      if (o === undefined) continue;
      this.scene.remove(o);
      o.geometry.dispose();
      (o.material as THREE.Material).dispose();
    }
    this.peers = undefined;
    this.links = undefined;
    this.points = undefined;
    this.setRoute(null);
  }

  positionOf(i: number): THREE.Vector3 {
    return new THREE.Vector3(this.positions[3 * i], this.positions[3 * i + 1], this.positions[3 * i + 2]);
  }

  /** Draws the route of `s` (or clears it): hop segments with arrow heads, markers, hop-order labels. */
  setRoute(s: PainSnapshot | null): void {
    for (const child of [...this.routeGroup.children]) {
      this.routeGroup.remove(child);
      if (child instanceof THREE.Mesh || child instanceof THREE.InstancedMesh) {
        child.geometry.dispose();
        (child.material as THREE.Material).dispose();
      }
    }
    this.labels.replaceChildren();
    this.labelItems = [];
    this.routeSegments = 0;
    const r = s?.route;
    if (s === undefined || s === null || r === null || r === undefined) return;
    const segs = r.hops.filter((h) => h.peer >= 0 && h.chosenPeer >= 0 && h.peer !== h.chosenPeer);
    this.routeSegments = segs.length;
    if (segs.length > 0) {
      const cyl = new THREE.CylinderGeometry(0.035, 0.035, 1, 6, 1, true);
      const cone = new THREE.ConeGeometry(0.11, 0.32, 8);
      const bodies = new THREE.InstancedMesh(
        cyl,
        new THREE.MeshBasicMaterial({ color: 0xffffff }),
        segs.length,
      );
      const heads = new THREE.InstancedMesh(
        cone,
        new THREE.MeshBasicMaterial({ color: 0xffffff }),
        segs.length,
      );
      const m = new THREE.Matrix4();
      const q = new THREE.Quaternion();
      const c = new THREE.Color();
      segs.forEach((h, k) => {
        const a = this.positionOf(h.peer);
        const b = this.positionOf(h.chosenPeer);
        const dir = new THREE.Vector3().subVectors(b, a);
        const len = dir.length();
        dir.normalize();
        q.setFromUnitVectors(up, dir);
        const attempt = Math.max(0, r.txs.indexOf(h.tx));
        c.set(attemptColours[attempt % attemptColours.length]!);
        m.compose(new THREE.Vector3().addVectors(a, b).multiplyScalar(0.5), q, new THREE.Vector3(1, len, 1));
        bodies.setMatrixAt(k, m);
        bodies.setColorAt(k, c);
        const tip = new THREE.Vector3().copy(a).addScaledVector(dir, Math.max(0, len - peerRadius * 2.2));
        m.compose(tip, q, new THREE.Vector3(1, 1, 1));
        heads.setMatrixAt(k, m);
        heads.setColorAt(k, c);
      });
      this.routeGroup.add(bodies, heads);
    }
    const marker = (i: number, colour: number, radius: number): void => {
      if (i < 0) return;
      const mesh = new THREE.Mesh(
        new THREE.SphereGeometry(radius, 20, 14),
        new THREE.MeshBasicMaterial({ color: colour, wireframe: true }),
      );
      mesh.position.copy(this.positionOf(i));
      this.routeGroup.add(mesh);
    };
    marker(r.source, 0x3dff7a, 0.42);
    marker(r.targetPeer, 0xff3b3b, 0.55);
    // Hop order: each deciding peer labelled with the step at which the walk first reached it.
    const order: number[] = [];
    for (const h of r.hops) if (h.peer >= 0 && !order.includes(h.peer)) order.push(h.peer);
    order.slice(0, hopLabelsMax).forEach((i, k) => {
      const el = document.createElement('div');
      el.className = 'hop-label';
      el.textContent = String(k + 1);
      this.labels.appendChild(el);
      this.labelItems.push({ el, at: this.positionOf(i), shown: true });
    });
    const label = (i: number, text: string, cls: string): void => {
      if (i < 0) return;
      const el = document.createElement('div');
      el.className = `hop-label ${cls}`;
      el.textContent = text;
      this.labels.appendChild(el);
      this.labelItems.push({ el, at: this.positionOf(i).add(new THREE.Vector3(0, 0.7, 0)), shown: true });
    };
    label(r.source, `source ${s.peers[r.source]?.name ?? ''}`, 'source');
    label(r.targetPeer, `target ${s.peers[r.targetPeer]?.name ?? ''}`, 'target');
  }

  /**
   * Moves the hop labels with the camera. Writes only (the view's size is kept from `resize`, and a
   * label's display is touched only when it changes): reading layout here after last frame's writes would
   * force a synchronous layout every frame.
   */
  private placeLabels(): void {
    if (this.labelItems.length === 0) return;
    const w = this.viewWidth;
    const h = this.viewHeight;
    const v = this.labelScratch;
    for (const item of this.labelItems) {
      v.copy(item.at).project(this.camera);
      const visible = v.z < 1 && Math.abs(v.x) <= 1.1 && Math.abs(v.y) <= 1.1;
      if (visible !== item.shown) {
        item.el.style.display = visible ? '' : 'none';
        item.shown = visible;
      }
      if (visible)
        item.el.style.transform = `translate(${(((v.x + 1) / 2) * w).toFixed(1)}px, ${(((1 - v.y) / 2) * h).toFixed(1)}px)`;
    }
  }

  /** Shows or hides a part of the scene (for measuring what a frame costs). */
  show(part: 'peers' | 'links' | 'route', visible: boolean): void {
    if (part === 'links' && this.links !== undefined) {
      this.links.visible = visible;
      this.linksVisible = visible;
    }
    if (part === 'route') this.routeGroup.visible = visible;
    if (part === 'peers') {
      if (this.points !== undefined) this.points.visible = visible;
      else if (this.peers !== undefined) this.peers.visible = visible;
    }
  }

  /** Rings one peer (or none with -1). */
  highlightPeer(i: number): void {
    if (i < 0 || i * 3 >= this.positions.length) {
      this.highlight.visible = false;
      return;
    }
    this.highlight.position.copy(this.positionOf(i));
    this.highlight.visible = true;
  }

  /** Moves the camera to frame `indices` (all peers when empty). */
  focus(indices: readonly number[]): void {
    const n = this.positions.length / 3;
    const list = indices.length > 0 ? indices : Array.from({ length: n }, (_, i) => i);
    if (list.length === 0) return;
    const box = new THREE.Box3();
    for (const i of list) box.expandByPoint(this.positionOf(i));
    const centre = box.getCenter(new THREE.Vector3());
    const size = Math.max(2, box.getSize(new THREE.Vector3()).length());
    const dir = new THREE.Vector3().subVectors(this.camera.position, this.controls.target).normalize();
    if (dir.lengthSq() === 0) dir.set(0, 0.3, 1).normalize();
    const dist = size / (2 * Math.tan((this.camera.fov * Math.PI) / 360)) + 1;
    this.focusAnim = {
      from: this.controls.target.clone(),
      to: centre,
      camFrom: this.camera.position.clone(),
      camTo: centre.clone().addScaledVector(dir, dist),
      t0: performance.now(),
    };
  }

  /** The peer under a point of the canvas, or -1. */
  pick(clientX: number, clientY: number): number {
    const mesh = this.peers;
    if (mesh === undefined) return -1;
    const rect = this.renderer.domElement.getBoundingClientRect();
    const ndc = new THREE.Vector2(
      ((clientX - rect.left) / rect.width) * 2 - 1,
      -((clientY - rect.top) / rect.height) * 2 + 1,
    );
    this.raycaster.setFromCamera(ndc, this.camera);
    const hit = this.raycaster.intersectObject(mesh, false)[0];
    return hit?.instanceId ?? -1;
  }

  /** Draw calls of the last frame (peers, links and the route stay a handful whatever the size). */
  get drawCalls(): number {
    return this.renderer.info.render.calls;
  }

  /** Milliseconds one render of the scene takes (the mean of `n`, waiting for the GPU each time). */
  renderMs(n: number): number {
    const gl = this.renderer.getContext();
    const pixel = new Uint8Array(4);
    const t0 = performance.now();
    for (let i = 0; i < n; i++) {
      this.controls.update();
      const links = this.links?.visible;
      if (this.links !== undefined) this.links.visible = this.linksVisible;
      this.renderer.render(this.scene, this.camera);
      if (this.links !== undefined && links !== undefined) this.links.visible = links;
      // Reading a pixel waits for the frame to be drawn (finish() alone may not).
      gl.readPixels(0, 0, 1, 1, gl.RGBA, gl.UNSIGNED_BYTE, pixel);
    }
    return (performance.now() - t0) / n;
  }

  /** Counts frames over `ms` of wall time while the camera orbits: frames per second. */
  measureFps(ms: number): Promise<number> {
    const start = this.frames;
    const t0 = performance.now();
    this.controls.autoRotate = true;
    this.controls.autoRotateSpeed = 6;
    return new Promise((resolve) => {
      setTimeout(() => {
        this.controls.autoRotate = false;
        resolve(((this.frames - start) * 1000) / (performance.now() - t0));
      }, ms);
    });
  }
}
