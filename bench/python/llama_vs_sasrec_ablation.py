"""Which piece of a Llama block slows next-item learning against SASRec (docs/benchmarks.md, session 14).

Usage: /usr/bin/python3 bench/python/llama_vs_sasrec_ablation.py NAME[,NAME...] [THREADS]
Trains each named variant on S-DPO's LastFM windows (../shared/data/lastfm/ref-sdpo, target-only cross-entropy over the
catalog, Adam 1e-3, batch 256, 5 epochs) and prints validation catalog NDCG@10 (history masked) after each epoch.
A research diagnostic, not part of RecAlign: the C# LM and SASRec are the implementations.
"""
import torch, torch.nn as nn, torch.nn.functional as F, math, sys, time, csv
torch.set_num_threads(int(sys.argv[2]) if len(sys.argv) > 2 else 1)
torch.manual_seed(0)
import os
D=os.path.join(os.path.dirname(os.path.abspath(__file__)),'../../../shared/data/lastfm/ref-sdpo/')
def load(f):
    X=[];Y=[]
    for r in csv.DictReader(open(D+f)):
        s=[int(t) for t in r['seq'].split()]; s=[t for t in s if t!=4606]
        X.append(s); Y.append(int(r['next']))
    return X,Y
N=4606; PAD=N; L=10
def tens(X,Y):
    ids=torch.full((len(X),L),PAD); lens=torch.zeros(len(X),dtype=torch.long)
    for i,s in enumerate(X):
        s=s[-L:]; ids[i,:len(s)]=torch.tensor(s) if s else ids[i,:0]; lens[i]=len(s)
    return ids,lens,torch.tensor(Y)
tr=tens(*load('train_data.csv')); va=tens(*load('Val_data.csv'))
class RMS(nn.Module):
    def __init__(s,d): super().__init__(); s.w=nn.Parameter(torch.ones(d))
    def forward(s,x): return x*torch.rsqrt(x.pow(2).mean(-1,keepdim=True)+1e-6)*s.w
def rope(x,pos):  # x [B,H,T,hd]
    hd=x.shape[-1]; inv=1.0/(10000**(torch.arange(0,hd,2).float()/hd)); f=pos[:,None].float()*inv[None]
    cos,sin=f.cos(),f.sin(); x1,x2=x[...,:hd//2],x[...,hd//2:]
    c=torch.cat([cos,cos],-1); s_=torch.cat([sin,sin],-1)
    return x*c+torch.cat([-x2,x1],-1)*s_
class Block(nn.Module):
    def __init__(s,d,h,cfg):
        super().__init__(); s.cfg=cfg; s.h=h; bias=cfg['bias']
        s.qkv=nn.Linear(d,3*d,bias=bias); s.o=nn.Linear(d,d,bias=bias)
        Norm=(lambda: RMS(d)) if cfg['norm']=='rms' else (lambda: nn.LayerNorm(d,eps=1e-12))
        s.n1=Norm(); s.n2=Norm()
        if cfg['ffn']=='swiglu': s.g=nn.Linear(d,4*d,bias=bias); s.u=nn.Linear(d,4*d,bias=bias); s.dn=nn.Linear(4*d,d,bias=bias)
        else: s.u=nn.Linear(d,4*d,bias=bias); s.dn=nn.Linear(4*d,d,bias=bias)
        s.drop=nn.Dropout(cfg['drop']); s.adrop=cfg['drop']
    def attn(s,x,mask,pos):
        B,T,d=x.shape; q,k,v=s.qkv(x).view(B,T,3,s.h,d//s.h).permute(2,0,3,1,4)
        if s.cfg['pos']=='rope': q,k=rope(q,pos),rope(k,pos)
        a=(q@k.transpose(-1,-2))/math.sqrt(q.shape[-1]); a=a.masked_fill(~mask,-1e9).softmax(-1); a=F.dropout(a,s.adrop,s.training); y=a@v
        return s.drop(s.o(y.transpose(1,2).reshape(B,T,d)))
    def ffn(s,x):
        h=F.silu(s.g(x))*s.u(x) if s.cfg['ffn']=='swiglu' else F.gelu(s.u(x))
        return s.drop(s.dn(h))
    def forward(s,x,mask,pos):
        if s.cfg['pre']: x=x+s.attn(s.n1(x),mask,pos); return x+s.ffn(s.n2(x))
        x=s.n1(x+s.attn(x,mask,pos)); return s.n2(x+s.ffn(x))
class M(nn.Module):
    def __init__(s,cfg,d=64,h=2,nl=2):
        super().__init__(); s.cfg=cfg; V=N+2+cfg['extra']
        s.emb=nn.Embedding(V,d); s.pos=nn.Embedding(L+1,d) if cfg['pos']=='learned' else None
        s.en=(RMS(d) if cfg['norm']=='rms' else nn.LayerNorm(d,eps=1e-12)) if cfg['embnorm'] else None
        s.blocks=nn.ModuleList([Block(d,h,cfg) for _ in range(nl)]); s.fn=(RMS(d) if cfg['norm']=='rms' else nn.LayerNorm(d)) if cfg['pre'] else None
        s.drop=nn.Dropout(cfg['drop'])
        if cfg.get('untied'): s.head=nn.Linear(d,V,bias=False)
        for n,p in s.named_parameters():
            if p.dim()>1: nn.init.normal_(p,0,cfg.get('embstd',0.02) if n=='emb.weight' else 0.02)
            elif n.endswith('bias'): nn.init.zeros_(p)
    def forward(s,ids,lens):
        B=ids.shape[0]
        if s.cfg['bos']: ids=torch.cat([torch.full((B,1),N+1),ids],1); lens=lens+1
        T=ids.shape[1]; x=s.emb(ids)*s.cfg.get('embmult',1.0)
        pos=torch.arange(T)
        if s.pos is not None: x=x+s.pos(pos)[None]
        if s.en is not None: x=s.en(x)
        x=s.drop(x)
        mask=torch.ones(T,T,dtype=torch.bool).tril()[None,None]
        for b in s.blocks: x=b(x,mask,pos)
        if s.fn is not None: x=s.fn(x)
        h=x[torch.arange(B),(lens-1).clamp(min=0)]
        return h@(s.head.weight.T if s.cfg.get('untied') else s.emb.weight.T)
def run(name,cfg,epochs=5):
    torch.manual_seed(0); m=M(cfg); opt=torch.optim.Adam(m.parameters(),lr=cfg.get('lr',1e-3))
    ids,lens,y=tr; n=len(y); out=[]; t0=time.time()
    for ep in range(epochs):
        m.train(); perm=torch.randperm(n)
        for i in range(0,n,256):
            j=perm[i:i+256]; keep=lens[j]>0 if not cfg['bos'] else torch.ones(len(j),dtype=torch.bool); j=j[keep]
            loss=F.cross_entropy(m(ids[j],lens[j]),y[j]); opt.zero_grad(); loss.backward(); opt.step()
        m.eval(); nd=0.0
        with torch.no_grad():
            vi,vl,vy=va; keep=vl>0; vi,vl,vy=vi[keep],vl[keep],vy[keep]
            sc=m(vi,vl)[:,:N]
            hist=torch.zeros_like(sc,dtype=torch.bool)
            for r in range(len(vi)): hist[r,vi[r,:vl[r]]]=True
            sc[hist & (torch.arange(N)[None]!=vy[:,None])]=-1e9
            rank=(sc>sc[torch.arange(len(vy)),vy][:,None]).sum(1)
            nd=float(torch.where(rank<10,1/torch.log2(rank.float()+2),torch.zeros(())).mean())
        out.append(round(nd,3))
    print(f"{name:28s} {out}  ({time.time()-t0:.0f}s)",flush=True)
base=dict(norm='ln',pre=False,pos='learned',ffn='gelu',bias=True,bos=False,embnorm=True,extra=0,drop=0.5)
llama=dict(norm='rms',pre=True,pos='rope',ffn='swiglu',bias=False,bos=True,embnorm=False,extra=7756,drop=0.5)
which=sys.argv[1]
cfgs={'sasrec':base,'llama':llama,
 'llama+postln':{**llama,'pre':False,'norm':'ln','embnorm':True},
 'llama+embnorm':{**llama,'embnorm':True},
 'llama+learnedpos':{**llama,'pos':'learned'},
 'llama-bos':{**llama,'bos':False},
 'llama-extravocab':{**llama,'extra':0},
 'llama+gelu+bias':{**llama,'ffn':'gelu','bias':True},
 'llama+untied':{**llama,'untied':True},
 'llama+postrms':{**llama,'pre':False},
 'llama+postrms+embnorm':{**llama,'pre':False,'embnorm':True},
 'llama-extra+embnorm':{**llama,'extra':0,'embnorm':True},
 'llama+embstd1':{**llama,'embstd':1.0},
 'llama+embstd1+untied':{**llama,'embstd':1.0,'untied':True},
 'llama-extra+embmult8':{**llama,'extra':0,'embmult':8.0},
 'llama-extra+embmult50':{**llama,'extra':0,'embmult':50.0},
 'llama+embmult8':{**llama,'embmult':8.0},
 'sasrec+pre':{**base,'pre':True,'embnorm':False},
}
for w in which.split(','): run(w,cfgs[w])
